import { renameSync, rmSync } from 'node:fs';
import { extname } from 'node:path';
import { explainReadError, kindOf, openDatabase, sourceSql, sqlString } from './results/source.ts';

/** The formats results are merged into, by the output's file name extension. */
export type ResultFormat = 'csv' | 'parquet';

/** The format a file name asks for; anything but `.csv` and `.parquet` is an error. */
export function formatOf(path: string): ResultFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  throw new Error(
    `${path}: results are written as .csv or .parquet, not ${ext === '' ? 'a name without an extension' : ext}`,
  );
}

/**
 * The rows of results in the written column order; timestamps back to ISO 8601 text with
 * milliseconds and `Z` in CSV (as the collectors write them), native in Parquet.
 */
function selectFor(format: ResultFormat, source: string): string {
  const iso = (column: string): string =>
    format === 'csv' ? `strftime(${column}, '%Y-%m-%dT%H:%M:%S.%g') || 'Z' AS ${column}` : column;
  return `SELECT ${iso('timestamp')}, host, collector, metric, unit, "type", value, attributes, resource, ${iso('start_timestamp')} FROM ${source}`;
}

/**
 * Merges results files (one per collector, CSV or Parquet, with or without the `collector`
 * column) into one CSV or Parquet file, chosen by `out`'s extension (Parquet: Snappy, the codec every reader has, row groups
 * of a million rows, readable by pandas, polars, DuckDB and Spark). DuckDB streams the parts,
 * so memory stays bounded whatever their size. Each part is read strictly: a damaged part
 * fails naming its file and line, and nothing half-merged is left at `out`. Returns the
 * number of rows written.
 */
export async function mergeParts(parts: readonly string[], out: string): Promise<number> {
  const format = formatOf(out);
  const sources = parts.map((part) => ({ part, sql: sourceSql(part, kindOf(part)) }));
  const tmp = `${out}.tmp`;
  const db = await openDatabase();
  try {
    const union =
      sources.length === 0
        ? `(SELECT NULL::TIMESTAMP AS timestamp, '' AS host, '' AS collector, '' AS metric, '' AS unit, '' AS "type", NULL::DOUBLE AS value, '' AS attributes, '' AS resource, NULL::TIMESTAMP AS start_timestamp WHERE FALSE)`
        : `(${sources.map((s) => `SELECT * FROM ${s.sql}`).join(' UNION ALL ')})`;
    const options =
      format === 'csv'
        ? `FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"'`
        : `FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1000000`;
    const result = await db.connection.run(
      `COPY (${selectFor(format, union)}) TO ${sqlString(tmp)} (${options})`,
    );
    renameSync(tmp, out);
    return result.rowsChanged;
  } catch (error) {
    rmSync(tmp, { force: true });
    throw explainReadError(parts[0] ?? out, error);
  } finally {
    db.close();
  }
}
