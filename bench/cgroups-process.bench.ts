/**
 * cgroups and process receivers over a generated host tree (1,000 cgroups, 2,000 processes),
 * beside a C program that reads the same files once per pass: the floor any collector pays.
 *
 *   node bench/cgroups-process.bench.ts [scrapes]      (default 1000)
 *
 * One recording scrape lists every file, directory and link the receivers read; the C
 * program (compiled here with gcc -O2) opens, reads and closes exactly those, each pass.
 * Our side: the receivers' scrapes through the scrape controller (read, parse, SDK
 * collection), in this process. Prints CPU per scrape and per series, the ratio to the
 * floor, and RSS over the run. Needs gcc.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupFsClient } from '../receivers/cgroups/client.ts';
import { createCgroupFsClient } from '../receivers/cgroups/client.ts';
import { configSchema as cgroupsConfigSchema } from '../receivers/cgroups/config.ts';
import { createCgroupsScraper } from '../receivers/cgroups/receiver.ts';
import { generateCgroupTree } from '../receivers/cgroups/testdata/generate.ts';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema as processConfigSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { generateProcTree } from '../receivers/process/testdata/generate.ts';
import { countPoints } from '../service/metrics-data.ts';
import { ScrapeRunner } from '../service/scrape-controller.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { compileFloor, recordingProcessClient, runFloor } from './support/floor.ts';

const SCRAPES = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-bench-'));

function recordingCgroupClient(inner: CgroupFsClient, seen: Map<string, string>): CgroupFsClient {
  return {
    readText: (path) => (seen.set(path, 'F'), inner.readText(path)),
    readHead: (path, max) => (seen.set(path, 'F'), inner.readHead(path, max)),
    listDir: (path) => (seen.set(path, 'D'), inner.listDir(path)),
    readLink: (path) => (seen.set(path, 'L'), inner.readLink(path)),
  };
}

try {
  const cgroupRoot = join(dir, 'cgroups');
  const procRoot = join(dir, 'procs');
  const tree = generateCgroupTree(cgroupRoot, { cgroups: 1000, layout: 'v2' });
  generateProcTree(procRoot, { processes: 2000 });
  const cgroupsConfig = cgroupsConfigSchema.parse({
    root_path: cgroupRoot,
    max_cgroups: 5000,
    metrics: { network: true },
  });
  // Every process, not a top N: the floor reads them all too.
  const processConfig = processConfigSchema.parse({ root_path: procRoot, include: { names: ['.*'] } });

  // The recording scrape: the files both receivers read.
  const seen = new Map<string, string>();
  const probe = [
    new ScrapeRunner(
      createCgroupsScraper(cgroupsConfig, { client: recordingCgroupClient(createCgroupFsClient(), seen) }),
      createTestSettings('cgroups', 'receiver'),
    ),
    new ScrapeRunner(
      new ProcessScraper({
        config: processConfig,
        client: recordingProcessClient(createFileProcessClient({ rootPath: procRoot }), procRoot, seen),
      }),
      createTestSettings('process', 'receiver'),
    ),
  ];
  for (const r of probe) await r.run(60_000);
  const floorPasses = Math.max(20, Math.min(SCRAPES, 200));
  const { entries, ms: floorMs } = runFloor(compileFloor(dir), seen, floorPasses, join(dir, 'files.txt'));

  const runners = [
    new ScrapeRunner(createCgroupsScraper(cgroupsConfig), createTestSettings('cgroups', 'receiver')),
    new ScrapeRunner(
      new ProcessScraper({ config: processConfig, client: createFileProcessClient({ rootPath: procRoot }) }),
      createTestSettings('process', 'receiver'),
    ),
  ];
  let series = 0;
  for (const r of runners) series += countPoints((await r.run(60_000)).batch);
  const rss: number[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 1; i <= SCRAPES; i++) {
    for (const r of runners) await r.run(60_000);
    if (i % Math.max(1, Math.floor(SCRAPES / 10)) === 0) rss.push(process.memoryUsage().rss / 2 ** 20);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / SCRAPES;
  const wallMs = (performance.now() - wall0) / SCRAPES;
  console.log(
    `tree: ${String(tree.paths.length)} cgroups (v2), 2000 processes; ${String(entries)} files, directories and links read per scrape`,
  );
  console.log(
    `inframeter: ${cpuMs.toFixed(2)} ms CPU and ${wallMs.toFixed(2)} ms wall per scrape of both receivers, ${String(series)} series, ${((cpuMs * 1000) / series).toFixed(2)} µs CPU per series`,
  );
  console.log(`C floor (same files, open/read/close only): ${floorMs.toFixed(2)} ms CPU per pass`);
  console.log(`ratio inframeter / C floor: ${(cpuMs / floorMs).toFixed(2)} (target ≤ 4)`);
  console.log(
    `RSS over ${String(SCRAPES)} scrapes (every 10 %): ${rss.map((r) => r.toFixed(0)).join(' → ')} MB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
