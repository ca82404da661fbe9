/**
 * The node agent beside prometheus-node-exporter and beside floors, every row of the agent's
 * performance table in one command, each row measured in interleaved runs (ours, theirs,
 * ours, …) with the machine's 1-minute load average beside each figure:
 *
 *   npm run build && node bench/agent.bench.ts [--quick] [--runs 5] [--only ROWS]
 *   npm run bench -- agent                       (the same, full length)
 *
 * Rows (names for --only, comma-separated):
 * - `scrape200`, `scrape1000`: Prometheus scrape CPU per sample, the built collector (procfs
 *   every 10 ms into its prometheus exporter, one scrape plus one fetch of /metrics) against
 *   node_exporter fetched as often (bench/support/node-agent.ts), 200- and 1,000-fetch runs;
 *   the 200-fetch runs also give the RSS of both after 200 scrapes. Each 200-fetch run measures
 *   both processes twice: from their start (the row as it always was, start-up, first
 *   compilations and the first full collections included), then again in the same process
 *   after those 200 fetches (ours also after its 200 scrapes without fetches), so that both
 *   sides are measured warm after the same number of fetches; both rows are printed.
 * - `reads`: the procfs receiver's file reads for one scrape (its client's calls, replayed
 *   through it) against a C program making exactly those calls (bench/support/floor.ts), in
 *   slices alternating between the two.
 * - `csv`: the csv exporter's CPU per row (encode, queue, write) against a floor that writes
 *   the same bytes with the plainest code (bench/support/csv-rows.ts), both pinned to one CPU
 *   and each measured from a clean heap (a full garbage collection before it).
 * - `default`: the `npm start` configuration (procfs, cgroups, process → prometheus, csv)
 *   for 2 minutes (30 s with --quick), /metrics fetched every 10 s, against node_exporter
 *   fetched every 10 s: CPU % and RSS at the end.
 * - `memory`: bench/agent-memory.bench.ts --scrapes 200, run as a child process when it
 *   exists; its summary block is printed as it is.
 *
 * The in-process rows (`reads`, `csv`) run with the heap flags of `inframeter run`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/peers.ts';
import { measureCsv, measureCsvFloor, recordCsvBatches } from './support/csv-rows.ts';
import { compileFloor } from './support/floor.ts';
import { applyCollectorHeapFlags } from './support/heap-flags.ts';
import type { Figures } from './support/node-agent.ts';
import {
  BUILT_MAIN,
  collectorEnv,
  cpuMs,
  load1,
  measureNodeExporterRounds,
  measureOursRounds,
  requireBuild,
  rssMb,
  startNodeExporter,
  stopOnInterrupt,
  waitFor,
} from './support/node-agent.ts';
import {
  floorCallsOf,
  measurePassPair,
  pinToOneCpu,
  procfsReadsPass,
  recordProcfsReads,
} from './support/procfs-reads.ts';

const heapFlags = applyCollectorHeapFlags(['procfs']);
const ROWS = ['scrape200', 'scrape1000', 'reads', 'csv', 'default', 'memory'] as const;
type RowName = (typeof ROWS)[number];
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    only: { type: 'string', default: ROWS.join(',') },
  },
});
const RUNS = Number(args.runs);
const only = new Set(args.only.split(','));
for (const name of only) {
  if (!ROWS.includes(name as RowName)) {
    console.error(`--only: unknown row ${name} (rows: ${ROWS.join(', ')})`);
    process.exit(2);
  }
}
const DEFAULT_RUN_SECONDS = args.quick ? 30 : 120;
requireBuild();

/** One run of one row: our figure, the peer's or floor's, the ratio and the loads. */
interface Run {
  ours: number;
  theirs: number;
  ratio: number;
  loadOurs: number;
  loadTheirs: number;
}
interface Row {
  quantity: string;
  unit: string;
  goal: string;
  runs: Run[];
}
const table: Row[] = [];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function report(row: Row, run: Run): void {
  console.log(
    `  ${row.quantity}, run ${String(row.runs.length)}: ours ${run.ours.toFixed(3)} ${row.unit} (load ${run.loadOurs.toFixed(1)}), ` +
      `theirs ${run.theirs.toFixed(3)} ${row.unit} (load ${run.loadTheirs.toFixed(1)}), ratio ${run.ratio.toFixed(2)}×`,
  );
}

function addRun(row: Row, ours: number, theirs: number, loadOurs: number, loadTheirs: number): void {
  const run = { ours, theirs, ratio: ours / theirs, loadOurs, loadTheirs };
  row.runs.push(run);
  report(row, run);
}

/** The scrape CPU pairs of one run length; with 200 fetches, a second, warm round and RSS rows too. */
async function scrapePairs(fetches: number): Promise<void> {
  const rounds = fetches === 200 ? 2 : 1;
  console.log(
    `\nscrape CPU per sample, ${String(fetches)}-fetch runs (ours, node_exporter, ×${String(RUNS)})` +
      (rounds > 1 ? `; each process measured from its start, then after ${String(fetches)} fetches` : ''),
  );
  const cpu: Row[] = [];
  for (let round = 0; round < rounds; round++)
    cpu.push({
      quantity:
        `scrape CPU per sample, ${String(fetches)} fetches` +
        (round === 0 ? (rounds > 1 ? ' from start' : '') : ` after ${String(round * fetches)}`),
      unit: 'µs',
      goal: '≤ 1.0×',
      runs: [],
    });
  const rss: Row = { quantity: `RSS after ${String(fetches)} scrapes`, unit: 'MiB', goal: '-', runs: [] };
  for (let i = 0; i < RUNS; i++) {
    const oursRounds: Figures[] = await measureOursRounds(fetches, rounds);
    const theirsRounds: Figures[] = await measureNodeExporterRounds(fetches, rounds);
    cpu.forEach((row, round) => {
      const ours = oursRounds[round];
      const theirs = theirsRounds[round];
      if (ours === undefined || theirs === undefined) throw new Error(`round ${String(round + 1)} missing`);
      console.log(
        `  series ${String(ours.series)} / ${String(theirs.series)}; CPU per scrape + fetch ${ours.cpuPerScrapeMs.toFixed(3)} ms ` +
          `(scrape ${ours.collectMs?.toFixed(3) ?? '-'}, fetch ${ours.fetchMs?.toFixed(3) ?? '-'}, ${ours.fetchesPerScrape.toFixed(2)} fetches per scrape) ` +
          `/ ${theirs.cpuPerScrapeMs.toFixed(3)} ms`,
      );
      addRun(row, ours.cpuPerSeriesUs, theirs.cpuPerSeriesUs, ours.load, theirs.load);
      if (fetches === 200 && round === 0)
        addRun(rss, ours.rssLastMb, theirs.rssLastMb, ours.load, theirs.load);
    });
  }
  table.push(...cpu);
  if (fetches === 200) table.push(rss);
}

/** The procfs receiver's reads of one scrape against the C floor making the same calls. */
async function readPairs(): Promise<void> {
  const passes = args.quick ? 2000 : 5000;
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-agent-bench-'));
  try {
    const binary = compileFloor(dir);
    const calls = await recordProcfsReads();
    const count = (kind: string): number => calls.filter((call) => call.kind === kind).length;
    console.log(
      `\nprocfs file reads per scrape: ${String(calls.length)} calls (${String(count('K') + count('O') + count('B'))} files held open: ` +
        `${String(count('O'))} generated whole, read with one read; ${String(count('B'))} read until a short read; ` +
        `${String(count('K'))} until a read returns 0; ${String(count('S'))} statfs), ${String(passes)} passes in 5 slices alternating ours and the C floor, ×${String(RUNS)}`,
    );
    const row: Row = { quantity: 'procfs file reads per scrape', unit: 'µs', goal: '≤ 1.5×', runs: [] };
    const replay = procfsReadsPass(calls);
    const pinned = pinToOneCpu();
    console.log(`  this process and the floor pinned to CPU ${String(pinned.cpu)} for the row`);
    try {
      for (let i = 0; i < RUNS; i++) {
        const pair = measurePassPair(binary, replay.pass, floorCallsOf(calls), passes, 5, dir);
        const slices = (values: number[]): string => values.map((v) => v.toFixed(1)).join(' ');
        console.log(
          `  slices, µs a pass: ours ${slices(pair.oursSlices)}; floor ${slices(pair.floorSlices)}`,
        );
        addRun(row, pair.ours, pair.floor, load1(), load1());
      }
    } finally {
      pinned.restore();
      replay.close();
    }
    table.push(row);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The csv exporter against the floor writing the same bytes. */
async function csvPairs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-agent-bench-'));
  try {
    const batches = await recordCsvBatches(50);
    const rounds = args.quick ? 30 : 60;
    const rowsPerRound = batches.reduce((n, b) => n + b.rows, 0);
    console.log(
      `\ncsv exporter: ${String(batches.length)} procfs batches, ${String(rowsPerRound)} rows, ${String(rounds)} rounds; ours then the floor, ×${String(RUNS)}`,
    );
    const row: Row = { quantity: 'csv CPU per row', unit: 'µs', goal: '≤ 2.0×', runs: [] };
    // Both sides on one CPU, as in the reads row: the exporter's writes on libuv's thread pool
    // are threads of this process, pinned with it and counted in its CPU time.
    const pinned = pinToOneCpu();
    console.log(`  this process pinned to CPU ${String(pinned.cpu)} for the row`);
    try {
      // A warm-up of each as long as a measured run (with 5 rounds, our first run still came out
      // 2.1–2.3× against 1.0–1.3× for the next four), and the check that both write the same bytes.
      const same = await measureCsv(batches, rounds, join(dir, 'warm-ours.csv'));
      const floorSame = measureCsvFloor(batches, rounds, join(dir, 'warm-floor.csv'));
      if (!same.bytes.equals(floorSame.bytes)) {
        throw new Error('the csv floor does not write the same bytes as the exporter');
      }
      for (let i = 0; i < RUNS; i++) {
        const [oursPath, floorPath] = [join(dir, 'ours.csv'), join(dir, 'floor.csv')];
        const ours = await measureCsv(batches, rounds, oursPath);
        const loadOurs = load1();
        const floor = measureCsvFloor(batches, rounds, floorPath);
        addRun(row, ours.usPerRow, floor.usPerRow, loadOurs, load1());
        // Tens of megabytes each: not kept for the next run.
        rmSync(oursPath);
        rmSync(floorPath);
      }
    } finally {
      pinned.restore();
    }
    table.push(row);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU % and RSS of a process over `seconds`, /metrics fetched every 10 s. */
async function idleRun(
  pid: number,
  url: string,
  seconds: number,
): Promise<{ cpuPercent: number; rssMb: number }> {
  const cpu0 = cpuMs(pid);
  const start = performance.now();
  for (let fetched = 0; fetched < seconds / 10; fetched++) {
    await sleep(Math.max(0, start + (fetched + 1) * 10_000 - performance.now()));
    // As Prometheus scrapes: gzip accepted.
    await (await fetch(url, { headers: { 'accept-encoding': 'gzip' } })).arrayBuffer();
  }
  const wallMs = performance.now() - start;
  return { cpuPercent: ((cpuMs(pid) - cpu0) / wallMs) * 100, rssMb: rssMb(pid) };
}

/** The `npm start` configuration on free ports, its CSV in a temporary directory. */
async function defaultRunOurs(seconds: number): Promise<{ cpuPercent: number; rssMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-agent-bench-'));
  const [port, telemetryPort] = [await freePort(), await freePort()];
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  procfs: { collection_interval: 10s }',
      '  cgroups: { collection_interval: 10s }',
      '  process: { collection_interval: 10s, top: { cpu: 20, memory: 20 } }',
      'exporters:',
      `  prometheus: { endpoint: 127.0.0.1:${String(port)} }`,
      `  csv: { path: ${join(dir, 'inframeter-metrics.csv')} }`,
      'service:',
      '  telemetry:',
      '    logs: { level: warn }',
      `    metrics: { address: 127.0.0.1:${String(telemetryPort)} }`,
      '  pipelines:',
      '    metrics: { receivers: [procfs, cgroups, process], exporters: [prometheus, csv] }',
      '',
    ].join('\n'),
  );
  const child = stopOnInterrupt(
    spawn(process.execPath, [BUILT_MAIN, 'run', '--config', config], {
      stdio: 'ignore',
      cwd: dir,
      env: collectorEnv(),
    }),
  );
  try {
    const pid = child.pid;
    if (pid === undefined) throw new Error('the collector did not start');
    const url = `http://127.0.0.1:${String(port)}/metrics`;
    await waitFor(url);
    return await idleRun(pid, url, seconds);
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function defaultRunNodeExporter(seconds: number): Promise<{ cpuPercent: number; rssMb: number }> {
  const { pid, url, stop } = await startNodeExporter();
  try {
    return await idleRun(pid, url, seconds);
  } finally {
    stop();
  }
}

async function defaultPairs(): Promise<void> {
  console.log(
    `\ndefault run (npm start configuration), ${String(DEFAULT_RUN_SECONDS)} s each, /metrics fetched every 10 s; ours then node_exporter, ×${String(RUNS)}`,
  );
  const cpu: Row = {
    quantity: `default run CPU, ${String(DEFAULT_RUN_SECONDS)} s`,
    unit: '%',
    goal: '-',
    runs: [],
  };
  const rss: Row = {
    quantity: `default run RSS, ${String(DEFAULT_RUN_SECONDS)} s`,
    unit: 'MiB',
    goal: '-',
    runs: [],
  };
  for (let i = 0; i < RUNS; i++) {
    const ours = await defaultRunOurs(DEFAULT_RUN_SECONDS);
    const loadOurs = load1();
    const theirs = await defaultRunNodeExporter(DEFAULT_RUN_SECONDS);
    const loadTheirs = load1();
    addRun(cpu, ours.cpuPercent, theirs.cpuPercent, loadOurs, loadTheirs);
    addRun(rss, ours.rssMb, theirs.rssMb, loadOurs, loadTheirs);
  }
  table.push(cpu, rss);
}

/** bench/agent-memory.bench.ts, when it exists: its summary block as it prints it (all its output if it has none). */
function memoryBench(): string[] {
  const file = join(import.meta.dirname, 'agent-memory.bench.ts');
  if (!existsSync(file)) {
    return ['bench/agent-memory.bench.ts does not exist: RSS after 200 scrapes is the row above'];
  }
  console.log(`\nbench/agent-memory.bench.ts --scrapes 200 (load ${load1().toFixed(1)})`);
  const result = spawnSync(process.execPath, [file, '--scrapes', '200'], {
    encoding: 'utf8',
    env: collectorEnv(),
  });
  process.stdout.write(result.stdout);
  if (result.status !== 0) {
    return [`bench/agent-memory.bench.ts failed (exit ${String(result.status)}): ${result.stderr.trim()}`];
  }
  // Its summary block: from `== agent-memory summary ==` to `== end ==`.
  const lines = result.stdout.trimEnd().split('\n');
  const from = lines.indexOf('== agent-memory summary ==');
  const to = lines.indexOf('== end ==', from);
  return from < 0 ? lines : lines.slice(from, to < 0 ? undefined : to + 1);
}

console.log(
  `agent bench: ${String(RUNS)} interleaved runs per row${args.quick ? ' (--quick)' : ''}; this process's heap flags: ${heapFlags}`,
);
if (only.has('scrape200')) await scrapePairs(200);
if (only.has('scrape1000')) await scrapePairs(1000);
if (only.has('reads')) await readPairs();
if (only.has('csv')) await csvPairs();
if (only.has('default')) await defaultPairs();
const memory = only.has('memory') ? memoryBench() : [];

const cell = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
console.log('\n== agent table: every run as ours / theirs = ratio (1-minute load of our run, of theirs)');
for (const row of table) {
  console.log(`${row.quantity} (${row.unit}; goal ${row.goal})`);
  row.runs.forEach((run, i) => {
    console.log(
      `  run ${String(i + 1)}: ${cell(run.ours)} / ${cell(run.theirs)} = ${run.ratio.toFixed(2)}× ` +
        `(load ${run.loadOurs.toFixed(1)}, ${run.loadTheirs.toFixed(1)})`,
    );
  });
  const worst = row.runs.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const ratios = row.runs.map((r) => r.ratio);
  console.log(
    `  worst ${worst.ratio.toFixed(2)}× (${cell(worst.ours)} / ${cell(worst.theirs)} ${row.unit}, load ${worst.loadOurs.toFixed(1)}); ` +
      `range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`,
  );
}
if (memory.length > 0) {
  console.log('memory (bench/agent-memory.bench.ts):');
  for (const line of memory) console.log(`  ${line}`);
}
