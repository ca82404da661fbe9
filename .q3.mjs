import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(':memory:');
const c = await i.connect();
const r = await c.runAndReadAll(`SELECT json_extract_string('{"cpu.mode":"user"}', '$."cpu.mode"') a, 'NaN'::DOUBLE b, 'Infinity'::DOUBLE c2, '2026-11-22T10:00:00.123Z'::TIMESTAMP d, epoch_ms('2026-11-22T10:00:00.123Z'::TIMESTAMP) e`);
console.log(r.getRowObjectsJS());
try { await c.run(`SELECT * FROM read_csv('/tmp/dk/bad.csv', header=true, auto_detect=false, strict_mode=true, columns={'a':'VARCHAR','b':'DOUBLE'})`); } catch (e) { console.log(String(e)); }
