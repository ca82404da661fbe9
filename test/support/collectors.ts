import { waitUntil } from './wait.ts';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

/**
 * Real inframeter processes for the tests that chain several on loopback (agent → gateway):
 * `node service/main.ts run --config FILE`, started and stopped by a {@link Collectors} set
 * that kills whatever is left at the end of each test, and the helpers to read what their
 * csv exporters wrote.
 */

const ROOT = join(import.meta.dirname, '../..');

/** One running collector process. */
export interface Collector {
  readonly child: ChildProcess;
  /** Everything it wrote on stdout and stderr so far. */
  readonly output: () => string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The collectors a test file started: `killAll()` in its `afterEach`. */
export class Collectors {
  readonly #running = new Set<ChildProcess>();

  /**
   * Starts `node service/main.ts run --config FILE` and waits (up to `startTimeoutMs`) for its
   * start-up message; throws with its output when it exits or does not start in time.
   */
  async start(config: string, startTimeoutMs = 60_000): Promise<Collector> {
    const child = spawn(process.execPath, ['service/main.ts', 'run', '--config', config], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#running.add(child);
    let output = '';
    const append = (c: Buffer): void => {
      output += c.toString();
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const deadline = Date.now() + startTimeoutMs;
    while (!output.includes('inframeter running')) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`collector did not start:\n${output}`);
      await sleep(50);
    }
    return { child, output: () => output };
  }

  /** Sends `signal` to a collector and waits for it to exit. */
  async stop(collector: Collector, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const { child } = collector;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    }
    this.#running.delete(child);
  }

  /** Kills every collector still running (SIGKILL). */
  killAll(): void {
    for (const child of this.#running) child.kill('SIGKILL');
    this.#running.clear();
  }
}

/** The records of a CSV file (header excluded), each as its fields. */
export function csvRecords(path: string): string[][] {
  if (!existsSync(path)) return [];
  const records: unknown = parse(readFileSync(path, 'utf8'), { from_line: 2 });
  return records as string[][];
}

/** CSV rows (header excluded) as strings, to compare files row for row. */
export function csvRows(path: string): string[] {
  return csvRecords(path).map((r) => JSON.stringify(r));
}

/** Rows in a CSV file, counted by lines (cheap, for polling; rows hold no line breaks). */
export function csvRowCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines += 1;
  return Math.max(0, lines - 1);
}

/** How many times each row occurs. */
export function counts(list: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of list) out.set(row, (out.get(row) ?? 0) + 1);
  return out;
}

/** Polls `condition` every 200 ms until it holds; throws after `ms` with `detail()`. */
export async function waitFor(
  condition: () => boolean,
  ms: number,
  what: string,
  detail: () => string = () => '',
): Promise<void> {
  await waitUntil(condition, what, { timeoutMs: ms, pollMs: 200, detail });
}
