/**
 * process receiver over a generated host root of 2,000 processes, beside a C program that
 * reads the same files once per pass (open/read/close, readdir, readlink: the floor any
 * collector pays), measured in the same run.
 *
 *   node bench/process.bench.ts [scrapes]      (default 1000)
 *
 * Two selections: every process (`include.names: ['.*']`, every file of every process) and
 * the default (the top 20 by CPU and by memory: stat of every process, the other files of
 * the selected ones). For each, one recording scrape lists the files, directories and links
 * the receiver read; the C program (compiled here with gcc -O2) reads exactly those. Our side
 * is the whole scrape through the scrape controller (read, parse, rank, SDK collection).
 * Prints CPU per scrape and per series, the ratio to the floor (target ≤ 4), and RSS over the
 * run (target: no growth), with the heap flags of `inframeter run` (`INFRAMETER_HEAP_FLAGS=off`
 * for V8's defaults). Needs gcc.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { generateProcTree } from '../receivers/process/testdata/generate.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { compileFloor, recordingProcessClient, runFloor } from './support/floor.ts';
import { applyCollectorHeapFlags } from './support/heap-flags.ts';

// The heap settings of `inframeter run` with a process receiver, so that RSS is the collector's.
const heapFlags = applyCollectorHeapFlags(['process']);
const SCRAPES = Number(process.argv[2] ?? 1000);
const PROCESSES = 2000;
const dir = mkdtempSync(join(tmpdir(), 'inframeter-process-bench-'));

interface Result {
  readonly name: string;
  readonly entries: number;
  readonly floorMs: number;
  readonly cpuMs: number;
  readonly scrapeOnlyMs: number;
  readonly wallMs: number;
  readonly series: number;
  readonly rss: readonly number[];
}

async function measure(
  name: string,
  root: string,
  floor: string,
  raw: Record<string, unknown>,
): Promise<Result> {
  const config = configSchema.parse({ root_path: root, ...raw });
  const settings = createTestSettings('process', 'receiver');
  // The recording scrape (a second one: the first ranks by CPU since start, later ones since
  // the previous scrape, which is what a running collector does).
  const seen = new Map<string, string>();
  const recorder = new ScrapeRunner(
    new ProcessScraper({
      config,
      client: recordingProcessClient(createFileProcessClient({ rootPath: root }), root, seen),
    }),
    settings,
  );
  await recorder.run(60_000);
  seen.clear();
  await recorder.run(60_000);
  const floorPasses = Math.max(20, Math.min(SCRAPES, 200));
  const { entries, ms: floorMs } = runFloor(
    floor,
    seen,
    floorPasses,
    join(dir, `${name.replace(/\W+/g, '-')}.txt`),
  );

  const scraper = new ProcessScraper({ config, client: createFileProcessClient({ rootPath: root }) });
  const runner = new ScrapeRunner(scraper, settings);
  // Warm-up: JIT, the per-process state, the SDK's storage.
  let series = 0;
  for (let i = 0; i < 20; i++) series = countPoints((await runner.run(60_000)).batch);
  const rss: number[] = [process.memoryUsage().rss / 2 ** 20];
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 1; i <= SCRAPES; i++) {
    const { report } = await runner.run(60_000);
    if (report.errors.size > 0)
      throw new Error(`scrape ${String(i)}: ${[...report.errors.keys()].join(', ')}`);
    if (i % Math.max(1, Math.floor(SCRAPES / 10)) === 0) rss.push(process.memoryUsage().rss / 2 ** 20);
  }
  const cpu = process.cpuUsage(cpu0);
  // The scrape alone (read, parse, rank: this receiver's part), without the SDK's collection.
  const alone = Math.max(10, Math.floor(SCRAPES / 10));
  const signal = new AbortController().signal;
  const scrapeCpu0 = process.cpuUsage();
  for (let i = 0; i < alone; i++) await scraper.scrape(signal);
  const scrapeCpu = process.cpuUsage(scrapeCpu0);
  return {
    scrapeOnlyMs: (scrapeCpu.user + scrapeCpu.system) / 1000 / alone,
    name,
    entries,
    floorMs: floorMs,
    cpuMs: (cpu.user + cpu.system) / 1000 / SCRAPES,
    wallMs: (performance.now() - wall0) / SCRAPES,
    series,
    rss,
  };
}

try {
  const root = join(dir, 'root');
  generateProcTree(root, { processes: PROCESSES, seed: 7 });
  const floor = compileFloor(dir);
  const results = [
    await measure('every process', root, floor, { include: { names: ['.*'] } }),
    await measure('default (top 20 by CPU and by memory)', root, floor, {}),
  ];
  console.log(`heap flags: ${heapFlags}`);
  console.log(`generated root: ${String(PROCESSES)} processes; ${String(SCRAPES)} scrapes per selection`);
  for (const r of results) {
    const growth = (r.rss.at(-1) ?? 0) - (r.rss[0] ?? 0);
    console.log(`\n${r.name}: ${String(r.entries)} files, directories and links read per scrape`);
    console.log(
      `  inframeter: ${r.cpuMs.toFixed(2)} ms CPU and ${r.wallMs.toFixed(2)} ms wall per scrape, ${String(r.series)} series, ${((r.cpuMs * 1000) / r.series).toFixed(2)} µs CPU per series`,
    );
    console.log(
      `  of which the scrape alone (read, parse, rank; no SDK collection): ${r.scrapeOnlyMs.toFixed(2)} ms CPU`,
    );
    console.log(`  C floor (same files, open/read/close only): ${r.floorMs.toFixed(2)} ms CPU per pass`);
    console.log(
      `  ratio inframeter / C floor: ${(r.cpuMs / r.floorMs).toFixed(2)} (target ≤ 4); scrape alone / C floor: ${(r.scrapeOnlyMs / r.floorMs).toFixed(2)}`,
    );
    console.log(
      `  RSS over ${String(SCRAPES)} scrapes (after warm-up, then every 10 %): ${r.rss.map((x) => x.toFixed(0)).join(' → ')} MB (growth ${growth.toFixed(1)} MB)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
