import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB', preserve_insertion_order: 'false' });
const c = await i.connect();
const src = process.argv[2];
const csv = `read_csv('${src}', header=true, auto_detect=false, delim=',', quote='"', escape='"', columns={'timestamp':'TIMESTAMP','host':'VARCHAR','collector':'VARCHAR','metric':'VARCHAR','unit':'VARCHAR','type':'VARCHAR','value':'DOUBLE','attributes':'VARCHAR','resource':'VARCHAR','start_timestamp':'VARCHAR'}, timestampformat='%Y-%m-%dT%H:%M:%S.%gZ')`;
const from = src.endsWith('.parquet') ? `read_parquet('${src}')` : csv;
const B = `CASE WHEN value = 0 OR isnan(value) OR isinf(value) THEN 0 ELSE sign(value) * (round(log2(abs(value)) * 16) + 2048) END::SMALLINT`;
const variants = {
  count: `SELECT count(*) FROM ${from}`,
  countvalue: `SELECT count(*), sum(value) FROM ${from}`,
  nop95: `SELECT metric, host, collector, attributes, count(*) n, avg(value), min(value), max(value), arg_min(value, timestamp), arg_max(value, timestamp), min(timestamp), max(timestamp) FROM ${from} GROUP BY ALL`,
};
for (const [k, q] of Object.entries(variants)) {
  const t = performance.now();
  await c.runAndReadAll(q);
  const ms = performance.now() - t;
  console.log(k, ms.toFixed(0), 'ms', (10e6 / ms / 1000).toFixed(2), 'M rows/s');
}
