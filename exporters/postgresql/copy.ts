import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { binaryPayload, binaryTuples, isBinaryCopy, tupleText } from './copy-binary.ts';
import { isRowError, sqlState } from './errors.ts';
import { COPY_COLUMNS } from './rows.ts';

/**
 * Writing a batch of rows into `metrics`, as COPY text (lines ending in `\n`) or COPY's binary
 * form (copy-binary.ts; told apart by its signature), as the builders make them:
 *
 * 1. one `COPY metrics FROM STDIN` of the whole batch, its bytes written as they are queued
 *    (atomic: all rows or none);
 * 2. when it hits the primary key (a batch delivered again after a lost acknowledgement, or a
 *    row written twice), the batch goes through a session temporary table and
 *    `INSERT … ON CONFLICT DO NOTHING`: rows already stored are skipped, the others written;
 * 3. when a row is refused (a data or integrity error the conversion could not foresee, such
 *    as a check constraint a site added), the batch is cut into its rows and split in
 *    halves, each written again, down to the single rows the database refuses, which are
 *    returned; the rest is stored.
 *
 * Other errors (connection lost, server shutting down) are thrown: the caller retries the
 * batch, and rows already committed by step 3 are then skipped by step 2.
 */

/** A row the database refused, and why. */
export interface RefusedRow {
  /** The row as a line of COPY text (binary rows are shown the same way, unescaped). */
  readonly line: string;
  readonly error: Error;
}

/** What one write achieved. */
export interface WriteReport {
  readonly refused: RefusedRow[];
  /** Rows that were already stored (skipped by ON CONFLICT DO NOTHING); counted only when step 2 ran. */
  readonly duplicates: number;
}

const STAGING = 'inframeter_metrics_copy';
const NEWLINE = 0x0a;

/** How a payload of one COPY form is written, cut into rows and put together again. */
interface CopyForm {
  /** What follows `FROM STDIN` in the COPY statement. */
  readonly options: string;
  rows(payload: Uint8Array): Uint8Array[];
  join(rows: readonly Uint8Array[]): Uint8Array;
  /** A row as a line of text, for messages. */
  describe(row: Uint8Array): string;
}

const TEXT: CopyForm = {
  options: '',
  rows: splitLines,
  join: (rows) => Buffer.concat(rows),
  describe: (row) => Buffer.from(row).toString('utf8'),
};

const BINARY: CopyForm = {
  options: ' (FORMAT binary)',
  rows: binaryTuples,
  join: binaryPayload,
  describe: tupleText,
};

/** Writes `payload` (COPY text or binary) into `metrics` through `client`. */
export async function writeRows(client: pg.ClientBase, payload: Uint8Array): Promise<WriteReport> {
  const form = isBinaryCopy(payload) ? BINARY : TEXT;
  const report = { refused: [] as RefusedRow[], duplicates: 0 };
  try {
    report.duplicates += await writeOnce(client, form, payload);
  } catch (error) {
    if (!isRowError(error)) throw error;
    await writeIsolating(client, form, form.rows(payload), report, error as Error);
  }
  return report;
}

async function writeIsolating(
  client: pg.ClientBase,
  form: CopyForm,
  rows: readonly Uint8Array[],
  report: { refused: RefusedRow[]; duplicates: number },
  known?: Error,
): Promise<void> {
  if (rows.length === 1 && known !== undefined) {
    report.refused.push({ line: form.describe(rows[0] ?? new Uint8Array(0)), error: known });
    return;
  }
  if (known === undefined) {
    try {
      report.duplicates += await writeOnce(client, form, form.join(rows));
      return;
    } catch (error) {
      if (!isRowError(error)) throw error;
      if (rows.length === 1) {
        report.refused.push({ line: form.describe(rows[0] ?? new Uint8Array(0)), error: error as Error });
        return;
      }
    }
  }
  const half = Math.ceil(rows.length / 2);
  await writeIsolating(client, form, rows.slice(0, half), report);
  await writeIsolating(client, form, rows.slice(half), report);
}

/**
 * The lines of COPY text, each with its `\n`. A raw newline byte only ends a row: one inside a
 * value is written escaped (`\n`), and UTF-8 never uses the byte 0x0A inside a character.
 */
function splitLines(text: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let end = text.indexOf(NEWLINE); end >= 0; end = text.indexOf(NEWLINE, start)) {
    lines.push(text.subarray(start, end + 1));
    start = end + 1;
  }
  if (start < text.length) lines.push(text.subarray(start));
  return lines;
}

/** Steps 1 and 2; resolves with the number of rows skipped as already stored. */
async function writeOnce(client: pg.ClientBase, form: CopyForm, payload: Uint8Array): Promise<number> {
  try {
    await copy(client, `COPY metrics (${COPY_COLUMNS}) FROM STDIN${form.options}`, payload);
    return 0;
  } catch (error) {
    if (sqlState(error) !== '23505') throw error;
  }
  await client.query('BEGIN');
  try {
    await client.query(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGING} (LIKE metrics INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    );
    await copy(client, `COPY ${STAGING} (${COPY_COLUMNS}) FROM STDIN${form.options}`, payload);
    const inserted = await client.query(
      `INSERT INTO metrics (${COPY_COLUMNS}) SELECT ${COPY_COLUMNS} FROM ${STAGING} ON CONFLICT DO NOTHING`,
    );
    await client.query('COMMIT');
    return form.rows(payload).length - (inserted.rowCount ?? 0);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * One COPY FROM STDIN of `payload`, handed to the driver in one write: the driver frames it as
 * CopyData messages, so there is no per-line or per-chunk work on our side.
 */
async function copy(client: pg.ClientBase, sql: string, payload: Uint8Array): Promise<void> {
  const stream = client.query(copyFrom(sql));
  stream.end(payload);
  await finished(stream);
}
