/**
 * cgroups and process receivers over a generated host tree (1,000 cgroups, 2,000 processes),
 * beside a C program that reads the same files once per pass: the floor any collector pays.
 *
 *   node bench/cgroups-process.bench.ts [scrapes]      (default 1000)
 *
 * A recording scrape (the second: a steady-state one) lists every file, directory and link
 * each receiver reads; the C program (compiled here with gcc -O2) opens, reads and closes
 * exactly those, each pass. Our side: the receivers' scrapes through the scrape runner (read,
 * parse, collection into a batch), in this process, after 20 warm-up scrapes. Prints CPU per
 * scrape and per series, the ratio to the floor, the same per receiver with its read-and-parse
 * part alone, and RSS over the run. Runs with the heap flags of `inframeter run`, including
 * the larger growing step it sets at start for large scrapes (see service/heap-flags.ts;
 * `INFRAMETER_HEAP_FLAGS=off` for V8's defaults). Needs gcc.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupFsClient } from '../receivers/cgroups/client.ts';
import { createCgroupFsClient } from '../receivers/cgroups/client.ts';
import { configSchema as cgroupsConfigSchema } from '../receivers/cgroups/config.ts';
import { createCgroupsScraper } from '../receivers/cgroups/scraper.ts';
import { generateCgroupTree } from '../receivers/cgroups/testdata/generate.ts';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema as processConfigSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { generateProcTree } from '../receivers/process/testdata/generate.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { compileFloor, recordingProcessClient, runFloor } from './support/floor.ts';
import { applyCollectorHeapFlags } from './support/heap-flags.ts';

// The heap settings of `inframeter run` with these receivers, so that RSS is the collector's.
const heapFlags = applyCollectorHeapFlags(['cgroups', 'process']);

const SCRAPES = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-bench-'));

function recordingCgroupClient(inner: CgroupFsClient, seen: Map<string, string>): CgroupFsClient {
  return {
    readText: (path, oneRecord) => (seen.set(path, 'F'), inner.readText(path, oneRecord)),
    readHead: (path, max) => (seen.set(path, 'F'), inner.readHead(path, max)),
    listDir: (path, previous) => (seen.set(path, 'D'), inner.listDir(path, previous)),
    readLink: (path) => (seen.set(path, 'L'), inner.readLink(path)),
  };
}

interface Side {
  readonly name: string;
  readonly runner: ScrapeRunner;
  readonly scraper: { scrape(signal: AbortSignal): Promise<unknown> };
  floorMs: number;
  entries: number;
  series: number;
  cpuMs: number;
  scrapeOnlyMs: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

try {
  const cgroupRoot = join(dir, 'cgroups');
  const procRoot = join(dir, 'procs');
  const tree = generateCgroupTree(cgroupRoot, { cgroups: 1000, layout: 'v2' });
  generateProcTree(procRoot, { processes: 2000 });
  const cgroupsConfig = cgroupsConfigSchema.parse({
    root_path: cgroupRoot,
    max_cgroups: 5000,
    groups: { network: { enabled: true } },
  });
  // Every process, not a top N: the floor reads them all too.
  const processConfig = processConfigSchema.parse({ root_path: procRoot, include: { names: ['.*'] } });

  // The recording scrapes: the files each receiver reads in a steady-state scrape (the second
  // one: the first also reads what is kept between scrapes, such as each process's
  // executable and command line, and the block device names).
  const seenCgroups = new Map<string, string>();
  const seenProcesses = new Map<string, string>();
  const probes: [ScrapeRunner, Map<string, string>][] = [
    [
      new ScrapeRunner(
        createCgroupsScraper(cgroupsConfig, {
          client: recordingCgroupClient(createCgroupFsClient(), seenCgroups),
        }),
        createTestSettings('cgroups', 'receiver'),
      ),
      seenCgroups,
    ],
    [
      new ScrapeRunner(
        new ProcessScraper({
          config: processConfig,
          client: recordingProcessClient(
            createFileProcessClient({ rootPath: procRoot }),
            procRoot,
            seenProcesses,
          ),
        }),
        createTestSettings('process', 'receiver'),
      ),
      seenProcesses,
    ],
  ];
  for (const [runner, seen] of probes) {
    await runner.run(60_000);
    seen.clear();
    await runner.run(60_000);
  }
  // The floor is run before and after our scrapes and averaged: the machine is shared, and
  // a single short run of it catches whatever load there is at that moment.
  const floorPasses = Math.max(20, Math.min(SCRAPES, 200));
  const floor = compileFloor(dir);
  const floorOf = (seen: Map<string, string>, name: string) =>
    runFloor(floor, seen, floorPasses, join(dir, `${name}.txt`));
  const floors = [floorOf(seenCgroups, 'cgroups'), floorOf(seenProcesses, 'processes')];
  const cgroupsFloor = floors[0] ?? { entries: 0, ms: 0 };
  const processFloor = floors[1] ?? { entries: 0, ms: 0 };

  const cgroupsScraper = createCgroupsScraper(cgroupsConfig);
  const processScraper = new ProcessScraper({
    config: processConfig,
    client: createFileProcessClient({ rootPath: procRoot }),
  });
  const sides: Side[] = [
    {
      name: 'cgroups',
      runner: new ScrapeRunner(cgroupsScraper, createTestSettings('cgroups', 'receiver')),
      scraper: cgroupsScraper,
      entries: cgroupsFloor.entries,
      floorMs: cgroupsFloor.ms,
      series: 0,
      cpuMs: 0,
      scrapeOnlyMs: 0,
    },
    {
      name: 'process',
      runner: new ScrapeRunner(processScraper, createTestSettings('process', 'receiver')),
      scraper: processScraper,
      entries: processFloor.entries,
      floorMs: processFloor.ms,
      series: 0,
      cpuMs: 0,
      scrapeOnlyMs: 0,
    },
  ];
  // Warm-up: JIT, the per-cgroup and per-process state.
  for (let i = 0; i < 20; i++) {
    for (const side of sides) side.series = countPoints((await side.runner.run(60_000)).batch);
  }
  const series = sides.reduce((n, side) => n + side.series, 0);
  const rss: number[] = [process.memoryUsage().rss / 2 ** 20];
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 1; i <= SCRAPES; i++) {
    for (const side of sides) {
      const t = cpuMs();
      const { report } = await side.runner.run(60_000);
      side.cpuMs += cpuMs() - t;
      if (report.errors.size > 0)
        throw new Error(`${side.name} scrape ${String(i)}: ${[...report.errors.keys()].join(', ')}`);
    }
    if (i % Math.max(1, Math.floor(SCRAPES / 10)) === 0) rss.push(process.memoryUsage().rss / 2 ** 20);
  }
  const cpu = process.cpuUsage(cpu0);
  const totalMs = (cpu.user + cpu.system) / 1000 / SCRAPES;
  const wallMs = (performance.now() - wall0) / SCRAPES;
  // The scrapes alone (read and parse: the receivers' part), without the collection.
  const alone = Math.max(10, Math.floor(SCRAPES / 10));
  const signal = new AbortController().signal;
  const after = [floorOf(seenCgroups, 'cgroups'), floorOf(seenProcesses, 'processes')];
  sides.forEach((side, i) => {
    side.floorMs = (side.floorMs + (after[i]?.ms ?? side.floorMs)) / 2;
  });
  const both = {
    entries: sides.reduce((n, side) => n + side.entries, 0),
    ms: sides.reduce((n, side) => n + side.floorMs, 0),
  };
  for (const side of sides) {
    side.cpuMs /= SCRAPES;
    const t = cpuMs();
    for (let i = 0; i < alone; i++) await side.scraper.scrape(signal);
    side.scrapeOnlyMs = (cpuMs() - t) / alone;
  }
  const growth = (rss.at(-1) ?? 0) - (rss[0] ?? 0);
  console.log(`heap flags: ${heapFlags}`);
  console.log(
    `tree: ${String(tree.paths.length)} cgroups (v2), 2000 processes; ${String(both.entries)} files, directories and links read per scrape`,
  );
  console.log(
    `inframeter: ${totalMs.toFixed(2)} ms CPU and ${wallMs.toFixed(2)} ms wall per scrape of both receivers, ${String(series)} series, ${((totalMs * 1000) / series).toFixed(2)} µs CPU per series`,
  );
  console.log(
    `C floor (same files, open/read/close only; mean of a run before and one after): ${both.ms.toFixed(2)} ms CPU per pass, ${((both.ms * 1000) / series).toFixed(2)} µs per series`,
  );
  console.log(`ratio inframeter / C floor: ${(totalMs / both.ms).toFixed(2)} (target ≤ 4)`);
  for (const side of sides) {
    console.log(
      `  ${side.name}: ${String(side.entries)} entries, ${String(side.series)} series; ${side.cpuMs.toFixed(2)} ms CPU per scrape (read and parse ${side.scrapeOnlyMs.toFixed(2)}, collection ${(side.cpuMs - side.scrapeOnlyMs).toFixed(2)}); floor ${side.floorMs.toFixed(2)} ms; ratio ${(side.cpuMs / side.floorMs).toFixed(2)}, read and parse alone ${(side.scrapeOnlyMs / side.floorMs).toFixed(2)}`,
    );
  }
  console.log(
    `RSS over ${String(SCRAPES)} scrapes (after warm-up, then every 10 %): ${rss.map((r) => r.toFixed(0)).join(' → ')} MB (growth ${growth.toFixed(1)} MB)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
