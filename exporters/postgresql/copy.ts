import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isRowError, sqlState } from './errors.ts';
import { COPY_COLUMNS } from './rows.ts';

/**
 * Writing COPY lines into `metrics`:
 *
 * 1. one `COPY metrics FROM STDIN` of the whole batch (atomic: all rows or none);
 * 2. when it hits the primary key (a batch delivered again after a lost acknowledgement, or a
 *    row written twice), the batch goes through a session temporary table and
 *    `INSERT … ON CONFLICT DO NOTHING`: rows already stored are skipped, the others written;
 * 3. when a row is refused (a data or integrity error the conversion could not foresee, such
 *    as a check constraint a site added), the batch is split in halves, each written again,
 *    down to the single rows the database refuses, which are returned; the rest is stored.
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

const CHUNK_LINES = 512;
const STAGING = 'inframeter_metrics_copy';

/** Writes `lines` into `metrics` through `client`. */
export async function writeRows(client: pg.ClientBase, lines: readonly string[]): Promise<WriteReport> {
  const report = { refused: [] as RefusedRow[], duplicates: 0 };
  await writeIsolating(client, lines, report);
  return report;
}

async function writeIsolating(
  client: pg.ClientBase,
  lines: readonly string[],
  report: { refused: RefusedRow[]; duplicates: number },
): Promise<void> {
  try {
    report.duplicates += await writeOnce(client, lines);
  } catch (error) {
    if (!isRowError(error)) throw error;
    if (lines.length === 1) {
      report.refused.push({ line: lines[0] ?? '', error: error as Error });
      return;
    }
    const half = Math.ceil(lines.length / 2);
    await writeIsolating(client, lines.slice(0, half), report);
    await writeIsolating(client, lines.slice(half), report);
  }
}

/** Steps 1 and 2; resolves with the number of rows skipped as already stored. */
async function writeOnce(client: pg.ClientBase, lines: readonly string[]): Promise<number> {
  try {
    await copy(client, `COPY metrics (${COPY_COLUMNS}) FROM STDIN`, lines);
    return 0;
  } catch (error) {
    if (sqlState(error) !== '23505') throw error;
  }
  await client.query('BEGIN');
  try {
    await client.query(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGING} (LIKE metrics INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    );
    await copy(client, `COPY ${STAGING} (${COPY_COLUMNS}) FROM STDIN`, lines);
    const inserted = await client.query(
      `INSERT INTO metrics (${COPY_COLUMNS}) SELECT ${COPY_COLUMNS} FROM ${STAGING} ON CONFLICT DO NOTHING`,
    );
    await client.query('COMMIT');
    return lines.length - (inserted.rowCount ?? 0);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** One COPY FROM STDIN of `lines`, in chunks of a few hundred lines. */
async function copy(client: pg.ClientBase, sql: string, lines: readonly string[]): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(chunks(lines), { objectMode: false }), stream);
}

function* chunks(lines: readonly string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += CHUNK_LINES) yield lines.slice(i, i + CHUNK_LINES).join('');
}
