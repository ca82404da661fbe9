import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB', preserve_insertion_order: 'false' });
const c = await i.connect();
const src = process.argv[2];
const q = (from) => `SELECT metric, host, collector, attributes, any_value(unit) AS unit, any_value("type") AS "type", count(*) n, avg(value) mean, min(value) mn, max(value) mx, approx_quantile(value, 0.95) p95,
  arg_min(value, timestamp) v0, arg_max(value, timestamp) v1, min(timestamp) t0, max(timestamp) t1, min(start_timestamp) s0, max(start_timestamp) s1
  FROM ${from} GROUP BY ALL`;
const csv = `read_csv('${src}', header=true, auto_detect=false, delim=',', quote='"', escape='"', columns={'timestamp':'TIMESTAMP','host':'VARCHAR','collector':'VARCHAR','metric':'VARCHAR','unit':'VARCHAR','type':'VARCHAR','value':'DOUBLE','attributes':'VARCHAR','resource':'VARCHAR','start_timestamp':'VARCHAR'}, timestampformat='%Y-%m-%dT%H:%M:%S.%gZ')`;
const from = src.endsWith('.parquet') ? `read_parquet('${src}')` : csv;
let t = performance.now();
const r = await c.runAndReadAll(q(from));
const ms = performance.now() - t;
console.log(r.getRows().length, 'groups', ms.toFixed(0), 'ms', (10e6 / ms / 1000).toFixed(2), 'M rows/s');
console.log(r.getRows()[0]);
