import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import type { ProcfsClient } from '../../receivers/procfs/client.ts';
import { createProcfsClient, endOfRead } from '../../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../../receivers/procfs/config.ts';
import { ProcfsScraper } from '../../receivers/procfs/scraper.ts';
import { startFloor } from './floor.ts';

/**
 * The file reads of one procfs scrape, replayed through the receiver's own client with the
 * arguments the scraper gave it, and the same calls made by the C floor
 * (bench/support/floor.ts).
 */

/**
 * One call of a scrape: `arg` as the scraper passed it to the client (rooted at `/`),
 * `path` the absolute path the floor opens, and `kind`: `K` (a pseudo-file, held open and
 * read again from offset 0 until a read returns 0), `O` (the same, one read: a file the
 * kernel generates whole), `B` (the same, until a read returns 0 or at most 4,096 − `margin`
 * bytes: a `seq_file` whose records are at most `margin` bytes), `F` (a regular file, opened
 * each time) or `S` (statfs of a mount point). See `endOfRead` in receivers/procfs/client.ts.
 * `bytes`: the scraper asked for the bytes (`readBytes`), not the text.
 */
export interface ProcfsCall {
  readonly arg: string;
  readonly path: string;
  readonly kind: 'K' | 'O' | 'B' | 'F' | 'S';
  readonly margin?: number;
  readonly bytes?: boolean;
}

/** The kind of a read of `arg` (relative to `/`) by the receiver's client, for the floor. */
function readCall(arg: string): ProcfsCall {
  const path = `/${arg}`;
  if (statSync(path).size !== 0) return { arg, path, kind: 'F' };
  const end = endOfRead(arg);
  if (end === undefined) return { arg, path, kind: 'K' };
  return end === 0 ? { arg, path, kind: 'O' } : { arg, path, kind: 'B', margin: end };
}

/** The calls of a steady-state scrape of this host's /proc with the default config, in order. */
export async function recordProcfsReads(): Promise<ProcfsCall[]> {
  const inner = createProcfsClient('/');
  let seen = new Map<string, ProcfsCall>();
  const client: ProcfsClient = {
    read(arg) {
      seen.set(`/${arg}`, readCall(arg));
      return inner.read(arg);
    },
    readBytes(arg) {
      seen.set(`/${arg}`, { ...readCall(arg), bytes: true });
      return inner.readBytes(arg);
    },
    statfs(mountpoint) {
      seen.set(mountpoint, { arg: mountpoint, path: mountpoint, kind: 'S' });
      return inner.statfs(mountpoint);
    },
    close: () => {
      inner.close();
    },
  };
  const scraper = new ProcfsScraper(client, procfsConfigSchema.parse({}));
  await scraper.scrape();
  // The second scrape is the steady state (the mount table known, the net/dev path chosen).
  seen = new Map();
  await scraper.scrape();
  client.close?.();
  return [...seen.values()];
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * CPU µs per pass of `pass` (Node) and of the C floor making the calls of `floorCalls`
 * (path → kind), the mean of each side's slices (returned too), in `slices` alternating slices of `passes / slices` passes each (ours, the
 * floor, ours, …), so that both sides see the same load, after `warmUp` passes of each. The
 * floor is one process for all the slices ({@link startFloor}, files in `dir`), so that no
 * process is started between two slices of ours; each side times its own passes with the CPU
 * time of its process (`getrusage`: ours through `process.cpuUsage()`).
 *
 * 20,000 warm-up passes by default, until V8 stops compiling: with 500 the first two runs came
 * out 0.2–0.3× above the others; with 3,000 the pass ran at its speed after about 1,600, but
 * `--trace-opt` showed V8 still compiling the client's functions with its optimising compiler
 * in the second and third runs (up to 38 ms of its thread's CPU, counted in ours); after 20,000
 * it compiles nothing more.
 */
export function measurePassPair(
  binary: string,
  pass: () => void,
  floorCalls: ReadonlyMap<string, string>,
  passes: number,
  slices: number,
  dir: string,
  warmUp = 20000,
): { ours: number; floor: number; oursSlices: number[]; floorSlices: number[] } {
  const floorProcess = startFloor(binary, floorCalls, dir);
  try {
    for (let i = 0; i < warmUp; i++) pass();
    floorProcess.run(warmUp);
    const perSlice = Math.ceil(passes / slices);
    const oursSlices: number[] = [];
    const floorSlices: number[] = [];
    for (let slice = 0; slice < slices; slice++) {
      const start = cpuUs();
      for (let i = 0; i < perSlice; i++) pass();
      oursSlices.push((cpuUs() - start) / perSlice);
      floorSlices.push(floorProcess.run(perSlice) * 1000);
    }
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
    return { ours: mean(oursSlices), floor: mean(floorSlices), oursSlices, floorSlices };
  } finally {
    floorProcess.close();
  }
}

/**
 * Pins this process (every thread, and the floor it starts next) to the first CPU it may run
 * on, with util-linux's `taskset`; returns what restores its CPUs. The two CPUs of a virtual
 * machine do not run at the same speed: unpinned, the floor, woken while ours waits for it,
 * often ran on the other CPU than ours, and a run's ratio moved from 1.28 to 1.79× at load 1.3
 * (slices of both sides at 46–48 or 64–69 µs, of ours at 64 or 91–99 µs); pinned, both sides
 * measure on one CPU: 1.36–1.37× on one, 1.40–1.44× on the other (docs/performance.md).
 */
export function pinToOneCpu(): { cpu: number; restore: () => void } {
  const pid = String(process.pid);
  const list =
    execFileSync('taskset', ['-c', '-p', pid], { encoding: 'utf8' }).trim().split(': ').pop() ?? '';
  const cpu = Number.parseInt(list, 10);
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), pid], { stdio: 'ignore' });
  return {
    cpu,
    restore: () => execFileSync('taskset', ['-a', '-c', '-p', list, pid], { stdio: 'ignore' }),
  };
}

/**
 * A pass of the receiver's client making `calls`, as the scraper makes them. One client for
 * every run of a row, as a collector has one for its life: with a client per run, its
 * functions were new closures each time, V8 threw their optimised code away ("wrong call
 * target") and compiled them again during the measured slices of the next runs, and the
 * compiler thread's CPU (38 ms for one function) is counted in ours (`process.cpuUsage()`):
 * the third run came out 4–5 µs above the others in every sitting.
 */
export function procfsReadsPass(calls: readonly ProcfsCall[]): { pass: () => void; close: () => void } {
  const client = createProcfsClient('/');
  return {
    pass: () => {
      for (const { arg, kind, bytes } of calls) {
        if (kind === 'S') client.statfs(arg);
        else if (bytes === true) client.readBytes(arg);
        else client.read(arg);
      }
    },
    close: () => {
      client.close();
    },
  };
}

/** The floor's list for `calls`: absolute path → kind (`B` followed by its margin). */
export function floorCallsOf(calls: readonly ProcfsCall[]): Map<string, string> {
  return new Map(calls.map(({ path, kind, margin }) => [path, kind === 'B' ? `B${String(margin)}` : kind]));
}
