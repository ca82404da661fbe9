/**
 * Where the gap of the node agent's `reads` row goes (bench/agent.bench.ts: the procfs
 * receiver's client making one scrape's calls against a C floor making the same calls).
 * Each step is measured in Node and in the C floor of bench/support/floor.ts making exactly
 * the same system calls, in slices alternating between the two, with the machine's load
 * beside each figure:
 *
 *   node bench/procfs-read-steps.bench.ts [--runs 3] [--quick]
 *
 * - one `pread` of a small file the kernel generates whole (`/proc/loadavg`): `fs.readSync`;
 * - the same followed by the read that returns 0 (the end of a `seq_file`);
 * - one `pread` of a page of `seq_file` text (`/proc/vmstat`);
 * - one `statfs` of `/`: `fs.statfsSync`;
 * - a scrape's calls with `readSync` and `statfsSync` alone, no text made;
 * - a scrape's calls through the receiver's client (`createProcfsClient('/')`), as the `reads`
 *   row makes them.
 *
 * The first four give Node's cost per call beyond C's. Then, in this process alone (rounds
 * of 500 passes of each in turn), a scrape's calls alone, the same with each file's bytes
 * decoded into a string (`buffer.toString('utf8')`), and the client: what the text and the
 * client's own code add to the calls. Runs with the heap flags of `inframeter run`, as the
 * `reads` row does.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProcfsClient } from '../receivers/procfs/client.ts';
import { compileFloor } from './support/floor.ts';
import { applyCollectorHeapFlags } from './support/heap-flags.ts';
import type { ProcfsCall } from './support/procfs-reads.ts';
import { floorCallsOf, measurePassPair, recordProcfsReads } from './support/procfs-reads.ts';

const heapFlags = applyCollectorHeapFlags(['procfs']);
const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } },
});
const RUNS = Number(args.runs);
const SLICES = 5;
const load1 = (): number => loadavg()[0] ?? Number.NaN;

/** One step: the calls the floor makes (path → kind) and a pass of Node making the same. */
interface Step {
  readonly name: string;
  /** Passes per run: about 40 ms of CPU per slice on a quiet machine. */
  readonly passes: number;
  readonly floor: ReadonlyMap<string, string>;
  readonly pass: () => void;
}

const buffer = Buffer.allocUnsafe(64 * 1024);
/** Written with every result (a module variable: no call can be optimised away). */
let sink = 0;
const held = new Map<string, number>();
const heldFd = (path: string): number => {
  let fd = held.get(path);
  if (fd === undefined) {
    fd = openSync(path, 'r');
    held.set(path, fd);
  }
  return fd;
};

/** Node making the floor's calls for `calls` with `readSync` and `statfsSync`; `decode`: and making each file's text. */
function rawPass(calls: readonly ProcfsCall[], decode: boolean): () => void {
  const list = calls.map(({ path, kind, margin = 0, bytes = false }) => ({
    path,
    kind,
    // The scraper takes the bytes of this file, not its text.
    text: decode && !bytes,
    // A `B` file's last read returns at most a page less its margin (endOfRead in the client).
    last: 4096 - margin,
    fd: kind === 'S' ? -1 : heldFd(path),
  }));
  return () => {
    for (const { path, kind, text, last, fd } of list) {
      if (kind === 'S') {
        sink += statfsSync(path).bfree;
        continue;
      }
      let length = 0;
      for (;;) {
        const n = readSync(fd, buffer, length, buffer.length - length, length);
        if (n === 0) break;
        length += n;
        if (kind === 'O' || (kind === 'B' && n <= last)) break;
      }
      sink += text ? buffer.toString('utf8', 0, length).length : length;
    }
  };
}

/** One kind of call alone. */
function oneCall(name: string, kind: ProcfsCall['kind'], path: string, passes: number): Step {
  const call: ProcfsCall = { arg: path, path, kind };
  return { name, passes, floor: floorCallsOf([call]), pass: rawPass([call], false) };
}

/**
 * CPU µs per pass of each of `passes` (Node only), in `rounds` rounds of `perSlice` passes of
 * each in turn, and each one's difference from the first: its mean over the rounds and the
 * standard error of that mean (the rounds see the same load, so the difference is steadier
 * than either figure).
 */
function splitInProcess(
  passes: Readonly<Record<string, () => void>>,
  rounds: number,
  perSlice: number,
): { name: string; median: number; minusFirst: number; error: number }[] {
  const cpuUs = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const entries = Object.entries(passes);
  for (const [, pass] of entries) for (let i = 0; i < 3000; i++) pass();
  const times = entries.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    entries.forEach(([, pass], k) => {
      const start = cpuUs();
      for (let i = 0; i < perSlice; i++) pass();
      times[k]?.push((cpuUs() - start) / perSlice);
    });
  }
  const first = times[0] ?? [];
  return entries.map(([name], k) => {
    const own = times[k] ?? [];
    const diffs = own.map((t, i) => t - (first[i] ?? Number.NaN));
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    const variance = diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, diffs.length - 1);
    return { name, median: median(own), minusFirst: mean, error: Math.sqrt(variance / diffs.length) };
  });
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'inframeter-read-steps-'));
try {
  const binary = compileFloor(dir);
  const calls = await recordProcfsReads();
  const client = createProcfsClient('/');
  const viaClient = (): void => {
    for (const { arg, kind, bytes } of calls) {
      if (kind === 'S') sink += client.statfs(arg).freeBytes;
      else if (bytes === true) sink += client.readBytes(arg).length;
      else sink += client.read(arg).length;
    }
  };
  const scale = args.quick ? 0.4 : 1;
  const single = Math.round(20_000 * scale);
  const scrape = Math.round(2_500 * scale);
  const steps: Step[] = [
    oneCall('pread, /proc/loadavg (28 B, generated whole)', 'O', '/proc/loadavg', single),
    oneCall('the same + the read that returns 0', 'K', '/proc/loadavg', single),
    oneCall('pread, /proc/vmstat (one page of seq_file text)', 'O', '/proc/vmstat', Math.round(single / 4)),
    oneCall('statfs /', 'S', '/', single),
    {
      name: "a scrape's calls, no text",
      passes: scrape,
      floor: floorCallsOf(calls),
      pass: rawPass(calls, false),
    },
    {
      name: "a scrape's calls through the receiver's client",
      passes: scrape,
      floor: floorCallsOf(calls),
      pass: viaClient,
    },
  ];
  const kinds = (k: string): number => calls.filter((c) => c.kind === k).length;
  console.log(
    `procfs read steps: Node (this process's heap flags: ${heapFlags}) against the C floor making the same calls, ` +
      `${String(SLICES)} alternating slices per run, ×${String(RUNS)}. A scrape: ${String(calls.length)} calls ` +
      `(${String(kinds('O'))} files read with one read, ${String(kinds('B'))} until a short read, ` +
      `${String(kinds('K'))} until a read returns 0, ${String(kinds('S'))} statfs).`,
  );
  const results = new Map<string, { node: number; c: number; load: number }[]>();
  for (let run = 1; run <= RUNS; run++) {
    for (const step of steps) {
      const { ours, floor } = measurePassPair(binary, step.pass, step.floor, step.passes, SLICES, dir);
      const load = load1();
      const runs = results.get(step.name) ?? [];
      runs.push({ node: ours, c: floor, load });
      results.set(step.name, runs);
      console.log(
        `  run ${String(run)}: ${step.name}: Node ${ours.toFixed(2)} µs, C ${floor.toFixed(2)} µs, ` +
          `Node − C ${(ours - floor).toFixed(2)} µs, ${(ours / floor).toFixed(2)}× (load ${load.toFixed(1)})`,
      );
    }
  }
  const rounds = args.quick ? 30 : 80;
  const loadBefore = load1();
  const split = splitInProcess(
    {
      'the calls': rawPass(calls, false),
      '+ the text': rawPass(calls, true),
      "+ the client's code": viaClient,
    },
    rounds,
    500,
  );
  const loadAfter = load1();
  client.close();

  console.log(`\n== procfs read steps: per pass, median of ${String(RUNS)} runs (Node − C: median, range)`);
  for (const step of steps) {
    const runs = results.get(step.name) ?? [];
    const diffs = runs.map((r) => r.node - r.c);
    const ratios = runs.map((r) => r.node / r.c);
    const loads = runs.map((r) => r.load);
    console.log(
      `  ${step.name}: Node ${median(runs.map((r) => r.node)).toFixed(2)} µs, C ${median(runs.map((r) => r.c)).toFixed(2)} µs; ` +
        `Node − C ${median(diffs).toFixed(2)} µs (${Math.min(...diffs).toFixed(2)}–${Math.max(...diffs).toFixed(2)}); ` +
        `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); ` +
        `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
    );
  }
  console.log(
    `  a scrape in Node alone, ${String(rounds)} rounds of 500 passes of each in turn (load ${loadBefore.toFixed(1)}, ${loadAfter.toFixed(1)}):`,
  );
  let previous = 0;
  for (const { name, median: m, minusFirst, error } of split) {
    console.log(
      `    ${name}: ${m.toFixed(2)} µs per pass; adds ${(minusFirst - previous).toFixed(2)} µs ` +
        `(${minusFirst.toFixed(2)} ± ${error.toFixed(2)} over the calls alone)`,
    );
    previous = minusFirst;
  }
  console.log(`  (checksum of the results: ${String(sink)})`);
} finally {
  for (const fd of held.values()) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
