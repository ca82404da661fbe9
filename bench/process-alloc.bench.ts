/**
 * What the process receiver allocates per scrape, split by step, with its default selection
 * (the top 20 by CPU and by memory: the default configuration's).
 *
 *   node --max-semi-space-size=64 --min-semi-space-size=64 bench/process-alloc.bench.ts [root] [scrapes]
 *
 * `root` is the host root to read (default `/`: this machine's processes); `generated` reads a
 * generated root of 2,000 processes instead. Allocation is measured as the growth of V8's used
 * heap over a batch of `scrapes` (default 20) runs of one step, with a young generation large
 * enough that no collection runs meanwhile; a batch during which V8 collected is measured
 * again (gc performance entries tell). Steps: listing /proc; reading every process's stat;
 * parsing those texts; the whole scrape (list, read, parse, rank, read and build the selected
 * processes); the collection of the snapshot into SDK points. Prints bytes per scrape and per
 * listed process for each, and the load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { generateProcTree } from '../receivers/process/testdata/generate.ts';
import { emptyPidStat, parsePidStatInto } from '../kit/procfs/pid-stat.ts';

const rootArg = process.argv[2] ?? '/';
const SCRAPES = Number(process.argv[3] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-process-alloc-'));

let collections = 0;
const observer = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
observer.observe({ entryTypes: ['gc'] });

/** Bytes allocated by `count` runs of `step`, per run: the smallest of five GC-free batches. */
async function allocated(step: () => unknown, count: number): Promise<number> {
  let best = Infinity;
  for (let attempt = 0; attempt < 20 && (attempt < 5 || best === Infinity); attempt++) {
    // Let pending gc entries arrive, so that a collection is seen by the batch it fell in.
    await new Promise((resolve) => setImmediate(resolve));
    const before = collections;
    const used0 = getHeapStatistics().used_heap_size;
    for (let i = 0; i < count; i++) await step();
    const used = getHeapStatistics().used_heap_size - used0;
    await new Promise((resolve) => setImmediate(resolve));
    if (collections === before && used >= 0) best = Math.min(best, used / count);
  }
  if (best === Infinity) throw new Error('every batch saw a collection: give V8 a larger young generation');
  return best;
}

try {
  let root = rootArg;
  if (rootArg === 'generated') {
    root = join(dir, 'root');
    generateProcTree(root, { processes: 2000, seed: 7 });
  }
  const config = configSchema.parse({ root_path: root });
  const client = createFileProcessClient({ rootPath: root });
  const scraper = new ProcessScraper({ config, client });
  const signal = new AbortController().signal;
  // Warm-up: JIT, the per-process state, the producer's series.
  for (let i = 0; i < 20; i++) {
    await scraper.scrape(signal);
    await scraper.metricProducer.collect();
  }
  const pids = client.listPids();
  const stats = pids.map((pid) => {
    const file = client.readPidBytes(pid, 'stat');
    return file === undefined
      ? undefined
      : { bytes: Buffer.from(file.bytes.subarray(0, file.length)), stat: emptyPidStat() };
  });
  const steps: [string, () => unknown][] = [
    ['list /proc', () => client.listPids()],
    [
      'read every stat',
      () => {
        for (const pid of pids) client.readPidBytes(pid, 'stat');
      },
    ],
    [
      'parse every stat',
      () => {
        for (const s of stats) if (s !== undefined) parsePidStatInto(s.bytes, s.stat);
      },
    ],
    ['whole scrape (no collection)', () => scraper.scrape(signal)],
    ['collection into SDK points', () => scraper.metricProducer.collect()],
  ];
  console.log(
    `root ${rootArg}: ${String(pids.length)} processes; ${String(SCRAPES)} runs per batch; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const [name, step] of steps) {
    const bytes = await allocated(step, SCRAPES);
    console.log(
      `  ${name.padEnd(30)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB per scrape, ${(bytes / pids.length).toFixed(0).padStart(6)} B per process`,
    );
  }
} finally {
  observer.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
