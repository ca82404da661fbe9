import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isRowError, sqlState } from './errors.ts';
import { COPY_COLUMNS } from './rows.ts';

/**
 * Writing a batch of COPY text (lines ending in `\n`, as rows.ts makes them) into `metrics`:
 *
 * 1. one `COPY metrics FROM STDIN` of the whole batch, its bytes written as they are queued
 *    (atomic: all rows or none);
 * 2. when it hits the primary key (a batch delivered again after a lost acknowledgement, or a
 *    row written twice), the batch goes through a session temporary table and
 *    `INSERT … ON CONFLICT DO NOTHING`: rows already stored are skipped, the others written;
 * 3. when a row is refused (a data or integrity error the conversion could not foresee, such
 *    as a check constraint a site added), the batch is cut into its lines and split in
 *    halves, each written again, down to the single rows the database refuses, which are
 *    returned; the rest is stored.
 *
 * Other errors (connection lost, server shutting down) are thrown: the caller retries the
 * batch, and rows already committed by step 3 are then skipped by step 2.
 */

/** A row the database refused, and why. */
export interface RefusedRow {
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

/** Writes `text` (COPY text lines) into `metrics` through `client`. */
export async function writeRows(client: pg.ClientBase, text: Uint8Array): Promise<WriteReport> {
  const report = { refused: [] as RefusedRow[], duplicates: 0 };
  try {
    report.duplicates += await writeOnce(client, text);
  } catch (error) {
    if (!isRowError(error)) throw error;
    await writeIsolating(client, splitLines(text), report, error as Error);
  }
  return report;
}

async function writeIsolating(
  client: pg.ClientBase,
  lines: readonly Uint8Array[],
  report: { refused: RefusedRow[]; duplicates: number },
  known?: Error,
): Promise<void> {
  if (lines.length === 1 && known !== undefined) {
    report.refused.push({ line: Buffer.from(lines[0] ?? []).toString('utf8'), error: known });
    return;
  }
  if (known === undefined) {
    try {
      report.duplicates += await writeOnce(client, Buffer.concat(lines));
      return;
    } catch (error) {
      if (!isRowError(error)) throw error;
      if (lines.length === 1) {
        report.refused.push({ line: Buffer.from(lines[0] ?? []).toString('utf8'), error: error as Error });
        return;
      }
    }
  }
  const half = Math.ceil(lines.length / 2);
  await writeIsolating(client, lines.slice(0, half), report);
  await writeIsolating(client, lines.slice(half), report);
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
async function writeOnce(client: pg.ClientBase, text: Uint8Array): Promise<number> {
  try {
    await copy(client, `COPY metrics (${COPY_COLUMNS}) FROM STDIN`, text);
    return 0;
  } catch (error) {
    if (sqlState(error) !== '23505') throw error;
  }
  await client.query('BEGIN');
  try {
    await client.query(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGING} (LIKE metrics INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    );
    await copy(client, `COPY ${STAGING} (${COPY_COLUMNS}) FROM STDIN`, text);
    const inserted = await client.query(
      `INSERT INTO metrics (${COPY_COLUMNS}) SELECT ${COPY_COLUMNS} FROM ${STAGING} ON CONFLICT DO NOTHING`,
    );
    await client.query('COMMIT');
    return countLines(text) - (inserted.rowCount ?? 0);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function countLines(text: Uint8Array): number {
  let lines = 0;
  for (let at = text.indexOf(NEWLINE); at >= 0; at = text.indexOf(NEWLINE, at + 1)) lines += 1;
  return lines;
}

/**
 * One COPY FROM STDIN of `text`, handed to the driver in one write: the driver frames it as
 * CopyData messages, so there is no per-line or per-chunk work on our side.
 */
async function copy(client: pg.ClientBase, sql: string, text: Uint8Array): Promise<void> {
  const stream = client.query(copyFrom(sql));
  stream.end(text);
  await finished(stream);
}
