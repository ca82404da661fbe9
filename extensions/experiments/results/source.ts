import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ParseError } from '../../../kit/errors.ts';
import { EXPORTER_HEADER, RESULT_HEADER } from '../result-columns.ts';

/** What a results file holds, found from its first bytes. */
export interface FileKind {
  format: 'csv' | 'parquet';
  /** False for a file the CSV exporter wrote (no `collector` column: `host` stands in). */
  hasCollector: boolean;
}

/** A value DuckDB returned, as text (`''` for NULL). */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

/** A text as an SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Opens an in-process DuckDB with bounds that keep a results query's memory to what its
 * groups (series) need: `memory_limit` (beyond it, aggregates, sorts and joins spill to a
 * directory of their own under the system's temporary directory, removed on close, never
 * the working directory), one thread per core, and no insertion order to preserve.
 */
export async function openDatabase(memoryLimit = process.env.INFRAMETER_RESULTS_MEMORY ?? '1GB'): Promise<{
  connection: DuckDBConnection;
  close: () => void;
}> {
  // Loaded on use: the DuckDB binding is large and only the results commands need it.
  const { DuckDBInstance } = await import('@duckdb/node-api').catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      'inframeter results needs DuckDB (@duckdb/node-api), which this installation leaves out ' +
        '(the container image does): run it where inframeter is installed with npm',
      { cause: error },
    );
  });
  const spill = mkdtempSync(join(tmpdir(), 'inframeter-duckdb-'));
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(availableParallelism()),
    memory_limit: memoryLimit,
    preserve_insertion_order: 'false',
    temp_directory: spill,
  });
  const connection = await instance.connect();
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
      rmSync(spill, { recursive: true, force: true });
    },
  };
}

/**
 * Whether `path` is Parquet (its `PAR1` magic) or an inframeter CSV (its header, with or
 * without `collector`). A CSV must end with a line end: a file cut short by a failed copy is
 * refused rather than read short. Throws a {@link ParseError} naming the file otherwise.
 */
export function kindOf(path: string): FileKind {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 4 && head.toString('latin1', 0, 4) === 'PAR1') return { format: 'parquet', hasCollector: true };
    const text = head.toString('utf8', 0, n);
    const firstLine = `${text.split('\n', 1)[0] ?? ''}\n`;
    if (n === 0) throw new ParseError(path, 1, 'empty file: no header');
    let hasCollector: boolean;
    if (firstLine === RESULT_HEADER) hasCollector = true;
    else if (firstLine === EXPORTER_HEADER) hasCollector = false;
    else
      throw new ParseError(
        path,
        1,
        `not an inframeter CSV header: expected "${RESULT_HEADER.trim()}", got "${firstLine.trim().slice(0, 200)}"`,
      );
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 10) throw new Error(`${path}: the last row has no line end (truncated file)`);
    return { format: 'csv', hasCollector };
  } finally {
    closeSync(fd);
  }
}

const CSV_TYPES = {
  timestamp: 'TIMESTAMP',
  host: 'VARCHAR',
  collector: 'VARCHAR',
  metric: 'VARCHAR',
  unit: 'VARCHAR',
  type: 'VARCHAR',
  value: 'DOUBLE',
  attributes: 'VARCHAR',
  resource: 'VARCHAR',
  start_timestamp: 'TIMESTAMP',
} as const;

/**
 * An SQL table expression over a results file with the columns `timestamp` (TIMESTAMP, UTC),
 * `host`, `collector`, `metric`, `unit`, `type`, `value` (DOUBLE), `attributes` (JSON text),
 * `resource` and `start_timestamp` (TIMESTAMP, NULL for gauges). CSV is read with fixed column types and strict
 * RFC 4180 quoting, so a damaged row fails with its line instead of being guessed at.
 */
export function sourceSql(path: string, kind: FileKind = kindOf(path)): string {
  if (kind.format === 'parquet') {
    return `(SELECT timestamp::TIMESTAMP AS timestamp, host, collector, metric, unit, "type", value::DOUBLE AS value, attributes, resource, start_timestamp::TIMESTAMP AS start_timestamp FROM read_parquet(${sqlString(path)}))`;
  }
  const entries = Object.entries(CSV_TYPES).filter(([k]) => kind.hasCollector || k !== 'collector');
  const columns = `{${entries.map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ')}}`;
  const read = `read_csv(${sqlString(path)}, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', new_line = '\\n', strict_mode = true, columns = ${columns})`;
  return kind.hasCollector
    ? read
    : `(SELECT timestamp, host, host AS collector, metric, unit, "type", value, attributes, resource, start_timestamp FROM ${read})`;
}

/**
 * DuckDB's reading errors as {@link ParseError}s naming the file and line where it gives one;
 * anything else as it is.
 */
export function explainReadError(path: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const line = /CSV Error on Line: (\d+)/.exec(message);
  // Over several files, DuckDB names the one it was reading.
  const file = /^\s*file = (.+)$/m.exec(message)?.[1]?.trim() ?? path;
  if (line !== null) {
    const detail = message
      .split('\n')
      .slice(1, 3)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('Possible fixes'))
      .join('; ');
    return new ParseError(file, Number(line[1]), detail);
  }
  if (/Could not convert|Conversion Error/i.test(message))
    return new Error(`${file}: ${message.split('\n', 1)[0] ?? message}`);
  return error instanceof Error ? error : new Error(message);
}
