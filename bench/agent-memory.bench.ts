/**
 * Memory of the node agent beside the floor of its stack, in one run.
 *
 *   npm run build && node bench/agent-memory.bench.ts [--scrapes 10000] [--default-scrapes N]
 *       [--interval 50] [--default-interval 400] [--real-scrapes 12] [--max-minutes M]
 *       [--node-flags="--flag …"]
 *
 * Four processes run side by side, all on the project's Node with the V8 flags and the malloc
 * settings `inframeter run` sets (service/heap-flags.ts):
 * - the floor: Node with the packages a host collector imports at start
 *   (test/support/stack-packages.ts) imported, and an idle HTTP server;
 * - the built collector (`dist/service/main.js run`) with procfs alone into the Prometheus
 *   exporter, its collection interval `--interval` ms (default 50);
 * - the built collector on the embedded default configuration (procfs, cgroups and process to
 *   Prometheus and CSV), its ports chosen free, its CSV rotated in a temporary directory and
 *   its collection interval shortened to `--default-interval` ms (default 400; its Prometheus
 *   series expiry, three intervals, with it). A real agent scrapes every 10 s and is busy
 *   about 1 % of the time; the default pipeline needs 35–55 ms of CPU per scrape on a busy
 *   2-core machine, so at 50 ms it is never idle, its CSV queue never empty, and its memory
 *   that of a saturated collector. At 400 ms it is busy about 10–15 % of the time (the
 *   summary prints the measured share; 250 ms measured 21 %) and 200 scrapes take under a
 *   minute and a half;
 * - the same default configuration at its own 10 s interval, for `--real-scrapes` scrapes
 *   (default 12, about 2 minutes; 0: not run).
 * The procfs-only and default collectors run until their slowest receiver has scraped
 * `--scrapes` times (default 10,000; `--default-scrapes` for the default configuration,
 * default the same), their /metrics fetched once per interval. At start, after 200 scrapes,
 * at every 10 % and at the end the bench prints the collector's RSS (VmRSS of
 * /proc/PID/status) beside the floor's at the same moment and their ratio, the split of V8's
 * heap (heap used, heap committed, code, external, array buffers; the collectors' own
 * telemetry, `inframeter.process.memory.usage`), CPU, and the machine's load average; the
 * summary adds the share of the time each collector was busy (its CPU time over the wall
 * time), each RSS's trend from 200 scrapes on (least-squares slope, MiB per 1,000 scrapes) and
 * where each RSS is at the end (/proc/PID/smaps: file mappings, glibc's main heap, anonymous
 * memory).
 * `--max-minutes M` stops each collector's run after M minutes if it has not made its scrapes by
 * then (on a busy machine a collector falls behind its interval), sampling it once more, so that
 * the tables and the summary are printed with the scrapes it did make.
 * `--node-flags=` adds Node/V8 flags to all four processes (to compare V8 options). A heap
 * sizing flag among them (`--heap-growing-percent`, the semi-space or old-space sizes) makes
 * the collectors keep V8's defaults for the others and skip the malloc settings, as
 * `inframeter run` does whenever its user sets heap flags (service/heap-flags.ts): such a run
 * compares V8's defaults plus that flag, not the shipped flags with one changed.
 *
 * Ends with one summary block between `== agent-memory summary ==` and `== end ==`, its last
 * line `AGENT_MEMORY_SUMMARY {json}`, for another bench that runs this one as a child.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../service/default-config.ts';
import { HEAP_FLAGS, HEAP_FLAGS_APPLIED, heapFlagsEnv } from '../service/heap-flags.ts';
import { freePort } from '../test/support/peers.ts';
import { STACK_PACKAGES } from '../test/support/stack-packages.ts';

const { values: args } = parseArgs({
  options: {
    scrapes: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '50' },
    'default-interval': { type: 'string', default: '400' },
    'default-scrapes': { type: 'string' },
    'real-scrapes': { type: 'string', default: '12' },
    'max-minutes': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
  },
});
const SCRAPES = Number(args.scrapes);
const DEFAULT_SCRAPES = Number(args['default-scrapes'] ?? args.scrapes);
const INTERVAL_MS = Number(args.interval);
const DEFAULT_INTERVAL_MS = Number(args['default-interval']);
/** The shipped collection interval of the default configuration. */
const REAL_INTERVAL_MS = 10_000;
const REAL_SCRAPES = Number(args['real-scrapes']);
/** Scrapes after which both collectors' RSS settled in the 10,000-scrape run (docs/performance.md). */
const SETTLED_SCRAPES = 1000;
/** How long each collector's run may last, ms: unlimited unless `--max-minutes` is given. */
const MAX_RUN_MS = args['max-minutes'] === undefined ? Infinity : Number(args['max-minutes']) * 60_000;
const NODE_FLAGS = args['node-flags'].split(' ').filter((f) => f !== '');
if (!Number.isInteger(SCRAPES) || SCRAPES < 1) throw new Error('--scrapes: expected a positive integer');
if (!Number.isInteger(DEFAULT_SCRAPES) || DEFAULT_SCRAPES < 1)
  throw new Error('--default-scrapes: expected a positive integer');
if (!Number.isFinite(INTERVAL_MS) || INTERVAL_MS < 1) throw new Error('--interval: expected milliseconds');
if (!Number.isFinite(DEFAULT_INTERVAL_MS) || DEFAULT_INTERVAL_MS < 1)
  throw new Error('--default-interval: expected milliseconds');
if (!(MAX_RUN_MS > 0)) throw new Error('--max-minutes: expected a positive number of minutes');
if (!Number.isInteger(REAL_SCRAPES) || REAL_SCRAPES < 0)
  throw new Error('--real-scrapes: expected a non-negative integer');
const TICKS_PER_SECOND = 100;
/** The malloc settings `inframeter run` puts in its environment, for the header. */
const MALLOC_SETTINGS = Object.entries(heapFlagsEnv({}))
  .filter(([k]) => k.startsWith('MALLOC_'))
  .map(([k, v]) => `${k}=${String(v)}`)
  .join(' ');
const MIB = 1024 * 1024;
const MAIN = join(import.meta.dirname, '..', 'dist', 'service', 'main.js');
if (!existsSync(MAIN)) {
  console.error('run `npm run build` first: the benchmark measures the built collector');
  process.exit(1);
}

/**
 * The floor: imports the stack's packages (file URLs resolved by the bench, so that the script
 * may live in a temporary directory), listens on loopback, prints its port, and answers every
 * request with its memory split. Plain JavaScript, as the built collector is.
 */
const FLOOR_JS = `
import { createServer } from 'node:http';
import { getHeapCodeStatistics } from 'node:v8';
for (const url of process.argv.slice(2)) await import(url);
const server = createServer((req, res) => {
  const m = process.memoryUsage();
  const c = getHeapCodeStatistics();
  res.end(JSON.stringify({ heap_used: m.heapUsed, heap_total: m.heapTotal,
    code: c.code_and_metadata_size + c.bytecode_and_metadata_size,
    external: m.external, array_buffers: m.arrayBuffers }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

/** V8's heap split, in bytes, as `inframeter.process.memory.usage` has it. */
interface Split {
  heap_used: number;
  heap_total: number;
  code: number;
  external: number;
  array_buffers: number;
}
const SPLIT_KEYS = ['heap_used', 'heap_total', 'code', 'external', 'array_buffers'] as const;

/** One process at one sample. */
interface Reading {
  rssMiB: number;
  split: Split;
  cpuMs: number;
  /** Where the RSS is, from /proc/PID/smaps ({@link rssByMapping}). */
  mappings: Mappings;
}

/**
 * RSS by kind of mapping, MiB: `files` (the Node binary and the libraries: code and read-only
 * data), `malloc` (glibc's main heap, `[heap]`: C++ allocations and buffers under the mmap
 * threshold), `anonymous` (V8's heap pages, malloc's other arenas and large blocks, stacks).
 */
interface Mappings {
  files: number;
  malloc: number;
  anonymous: number;
}

function rssByMapping(pid: number): Mappings {
  const out: Mappings = { files: 0, malloc: 0, anonymous: 0 };
  let kind: keyof Mappings = 'anonymous';
  for (const line of readFileSync(`/proc/${String(pid)}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      const name = header[1] ?? '';
      kind = name.startsWith('/') ? 'files' : name === '[heap]' ? 'malloc' : 'anonymous';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) out[kind] += Number(rss[1]) / 1024;
  }
  return out;
}

/** A collector and the floor at one point of the run. */
interface Sample {
  /** Scrapes of the collector's slowest receiver so far (self-telemetry). */
  scrapes: number;
  /** Fetches of its /metrics so far. */
  fetches: number;
  /** When it was taken, ms (performance.now()). */
  atMs: number;
  load1: number;
  floor: Reading;
  agent: Reading;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `url` until it answers 200, for up to 60 s (a busy machine starts Node slowly). */
async function waitReady(url: string, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${String(child.exitCode)}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${name}: ${url} did not answer within 60 s`);
}

/** A running process of the bench, with the tail of its stderr for errors. */
interface Running {
  child: ChildProcess;
  pid: number;
  stderr: () => string;
}

function start(name: string, argv: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-4000);
  });
  child.stdout.resume();
  return { child, pid: child.pid, stderr: () => err };
}

/**
 * The body of `url`, tried up to 5 times: on a machine this busy, a keep-alive connection may
 * be closed by the server just as it is reused (ECONNRESET).
 */
async function fetchText(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url);
      const text = await response.text();
      if (!response.ok) throw new Error(`${url}: HTTP ${String(response.status)}`);
      return text;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(200);
    }
  }
}

/** Reads the floor's split from its HTTP answer. */
async function floorSplit(port: number): Promise<Split> {
  return JSON.parse(await fetchText(`http://127.0.0.1:${String(port)}/`)) as Split;
}

/** Reads a collector's split and the scrapes of its slowest receiver from its own telemetry. */
async function collectorTelemetry(port: number): Promise<{ split: Split; scrapes: number }> {
  const text = await fetchText(`http://127.0.0.1:${String(port)}/metrics`);
  const split: Split = { heap_used: 0, heap_total: 0, code: 0, external: 0, array_buffers: 0 };
  let scrapes = Infinity;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('inframeter_process_memory_usage_bytes{')) {
      const type = /memory_type="([a-z_]+)"/.exec(line)?.[1];
      if (type !== undefined && type in split) split[type as keyof Split] = value;
    } else if (line.startsWith('inframeter_scrape_duration_seconds_count{')) {
      scrapes = Math.min(scrapes, value);
    }
  }
  if (split.heap_total === 0) throw new Error('no inframeter_process_memory_usage_bytes in the telemetry');
  return { split, scrapes: Number.isFinite(scrapes) ? scrapes : 0 };
}

/** Replaces `from` in `text`, which must hold it. */
function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the default configuration no longer holds ${from}`);
  return text.replace(from, to);
}

const mib = (bytes: number): string => (bytes / MIB).toFixed(1);

/**
 * The embedded default configuration with its ports, its CSV in `dir` (rotated, so that
 * thousands of scrapes at a short interval do not fill the disk), its collection interval
 * `intervalMs` and its Prometheus series expiry (three intervals) scaled with it.
 */
function defaultConfigText(
  intervalMs: number,
  port: number,
  telemetry: number,
  dir: string,
  name: string,
): string {
  let text = replaceOnce(DEFAULT_CONFIG, '127.0.0.1:9464', `127.0.0.1:${String(port)}`);
  text = replaceOnce(text, '127.0.0.1:8888', `127.0.0.1:${String(telemetry)}`);
  text = replaceOnce(
    text,
    'path: ./inframeter-metrics.csv',
    `path: ${join(dir, `${name}.csv`)}\n    rotation: { max_size: 64MiB, max_files: 1 }`,
  );
  text = text.replaceAll('collection_interval: 10s', `collection_interval: ${String(intervalMs)}ms`);
  return replaceOnce(text, 'metric_expiration: 30s', `metric_expiration: ${String(3 * intervalMs)}ms`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-agent-memory-'));
  const running: Running[] = [];
  try {
    // The collectors decide their heap flags themselves, as `inframeter run` does.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== HEAP_FLAGS_APPLIED && k !== 'INFRAMETER_HEAP_FLAGS'),
    );
    const interval = `${String(INTERVAL_MS)}ms`;

    // (a) the floor, with the flags and environment of `inframeter run`'s re-execution.
    const floorFile = join(dir, 'floor.mjs');
    writeFileSync(floorFile, FLOOR_JS);
    const urls = STACK_PACKAGES.map((p) => import.meta.resolve(p));
    const floor = start('floor', [...HEAP_FLAGS, ...NODE_FLAGS, floorFile, ...urls], heapFlagsEnv(env));
    running.push(floor);
    const floorPort = await new Promise<number>((resolve, reject) => {
      floor.child.stdout?.once('data', (chunk: Buffer) => {
        resolve(Number(chunk.toString().trim()));
      });
      floor.child.once('exit', (code) => {
        reject(new Error(`the floor exited with code ${String(code)}: ${floor.stderr()}`));
      });
    });

    // (b) procfs alone into Prometheus.
    const [procfsPort, procfsTelemetry] = [await freePort(), await freePort()];
    const procfsConfig = join(dir, 'procfs.yaml');
    writeFileSync(
      procfsConfig,
      [
        'receivers:',
        `  procfs: { collection_interval: ${interval} }`,
        'exporters:',
        `  prometheus: { endpoint: "127.0.0.1:${String(procfsPort)}" }`,
        'service:',
        `  telemetry: { logs: { level: warn }, metrics: { address: "127.0.0.1:${String(procfsTelemetry)}" } }`,
        '  pipelines:',
        '    metrics: { receivers: [procfs], exporters: [prometheus] }',
        '',
      ].join('\n'),
    );
    // (c) the embedded default configuration at the bench's interval for it, and (d) at its own.
    const [defaultPort, defaultTelemetry] = [await freePort(), await freePort()];
    const defaultConfig = join(dir, 'default.yaml');
    writeFileSync(
      defaultConfig,
      defaultConfigText(DEFAULT_INTERVAL_MS, defaultPort, defaultTelemetry, dir, 'default'),
    );
    const [realPort, realTelemetry] = [await freePort(), await freePort()];
    const realConfig = join(dir, 'real.yaml');
    writeFileSync(realConfig, defaultConfigText(REAL_INTERVAL_MS, realPort, realTelemetry, dir, 'real'));

    const procfs = start(
      'procfs-only collector',
      [...NODE_FLAGS, MAIN, 'run', '--config', procfsConfig],
      env,
    );
    running.push(procfs);
    const deflt = start('default collector', [...NODE_FLAGS, MAIN, 'run', '--config', defaultConfig], env);
    running.push(deflt);
    const real =
      REAL_SCRAPES > 0
        ? start('default collector at 10 s', [...NODE_FLAGS, MAIN, 'run', '--config', realConfig], env)
        : undefined;
    if (real !== undefined) running.push(real);
    await waitReady(
      `http://127.0.0.1:${String(procfsTelemetry)}/readyz`,
      procfs.child,
      'procfs-only collector',
    );
    await waitReady(`http://127.0.0.1:${String(defaultTelemetry)}/readyz`, deflt.child, 'default collector');
    if (real !== undefined)
      await waitReady(
        `http://127.0.0.1:${String(realTelemetry)}/readyz`,
        real.child,
        'default collector at 10 s',
      );

    console.log(
      `agent memory: procfs-only ${String(SCRAPES)} scrapes at ${interval}; default configuration ${String(DEFAULT_SCRAPES)} ` +
        `scrapes at ${String(DEFAULT_INTERVAL_MS)}ms` +
        (real === undefined ? '' : ` and ${String(REAL_SCRAPES)} at its own 10s`) +
        `; /metrics fetched once per interval; flags ${[...HEAP_FLAGS, ...NODE_FLAGS].join(' ')}, ${MALLOC_SETTINGS}`,
    );
    const floorReading = async (): Promise<Reading> => ({
      rssMiB: rssMiB(floor.pid),
      split: await floorSplit(floorPort),
      cpuMs: cpuMs(floor.pid),
      mappings: rssByMapping(floor.pid),
    });
    const started = performance.now();
    const [procfsSamples, defaultSamples, realSamples] = await Promise.all([
      drive(SCRAPES, INTERVAL_MS, procfs.pid, procfsPort, procfsTelemetry, floorReading),
      drive(DEFAULT_SCRAPES, DEFAULT_INTERVAL_MS, deflt.pid, defaultPort, defaultTelemetry, floorReading),
      real === undefined
        ? Promise.resolve(undefined)
        : drive(REAL_SCRAPES, REAL_INTERVAL_MS, real.pid, realPort, realTelemetry, floorReading),
    ]);
    const wallS = (performance.now() - started) / 1000;
    printTable('procfs-only', procfsSamples);
    printTable('default', defaultSamples);
    if (realSamples !== undefined) printTable('default at its own 10 s interval', realSamples);
    printSummary(procfsSamples, defaultSamples, realSamples, wallS);
  } finally {
    for (const r of running) r.child.kill('SIGTERM');
    await Promise.all(
      running.map((r) =>
        r.child.exitCode !== null || r.child.signalCode !== null
          ? Promise.resolve()
          : new Promise((resolve) => r.child.once('exit', resolve)),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The receiver scrape counts at which a collector is sampled: 200, then every 10 %. */
function samplePoints(scrapes: number): number[] {
  const at = new Set(scrapes > 200 ? [200] : []);
  for (let i = 1; i <= 10; i++) at.add(Math.round((scrapes * i) / 10));
  return [...at].sort((x, y) => x - y);
}

/**
 * Drives one collector: fetches its /metrics once per interval (never two at once) while its
 * receivers scrape, reads its telemetry every 250 ms, and samples it and the floor at start and
 * at each of {@link samplePoints} (a sample is taken at the first reading past the point).
 */
async function drive(
  scrapesWanted: number,
  intervalMs: number,
  pid: number,
  port: number,
  telemetryPort: number,
  floorReading: () => Promise<Reading>,
): Promise<Sample[]> {
  const url = `http://127.0.0.1:${String(port)}/metrics`;
  const samples: Sample[] = [];
  let fetches = 0;
  let done = false;
  const take = async (): Promise<number> => {
    const t = await collectorTelemetry(telemetryPort);
    samples.push({
      scrapes: t.scrapes,
      fetches,
      atMs: performance.now(),
      load1: loadavg()[0] ?? 0,
      floor: await floorReading(),
      agent: { rssMiB: rssMiB(pid), split: t.split, cpuMs: cpuMs(pid), mappings: rssByMapping(pid) },
    });
    return t.scrapes;
  };
  // Never rejects: a fetch that fails (a keep-alive connection closed by the server as it was
  // reused) is counted and retried at the next interval.
  let fetchErrors = 0;
  const fetching = (async () => {
    const started = performance.now();
    let ticks = 0;
    while (!done) {
      ticks += 1;
      try {
        const response = await fetch(url);
        await response.text();
        if (response.ok) fetches += 1;
        else fetchErrors += 1;
      } catch {
        fetchErrors += 1;
      }
      await sleep(Math.max(0, started + ticks * intervalMs - performance.now()));
    }
  })();
  const deadline = performance.now() + MAX_RUN_MS;
  try {
    const first = await take();
    let outOfTime = false;
    for (const point of samplePoints(scrapesWanted)) {
      for (;;) {
        const scrapes = (await collectorTelemetry(telemetryPort)).scrapes - first;
        if (scrapes >= point) break;
        outOfTime = performance.now() > deadline;
        if (outOfTime) break;
        await sleep(250);
      }
      const scrapes = (await take()) - first;
      if (outOfTime) {
        console.log(
          `${url}: --max-minutes reached after ${String(scrapes)} of ${String(scrapesWanted)} scrapes`,
        );
        break;
      }
    }
  } finally {
    done = true;
    await fetching;
  }
  if (fetchErrors > 0) console.log(`${url}: ${String(fetchErrors)} fetches failed (retried)`);
  const first = samples[0]?.scrapes ?? 0;
  return samples.map((s) => ({ ...s, scrapes: s.scrapes - first }));
}

function printTable(name: string, samples: readonly Sample[]): void {
  console.log(`\n${name}: RSS MiB (× floor's at the same moment); V8 heap MiB: used / committed, code`);
  console.log('(within the heap), external, array buffers; load: 1-minute load average');
  console.log('| scrapes | fetches | load | floor RSS | RSS (× floor) | heap split | floor heap split |');
  console.log('|---|---|---|---|---|---|---|');
  const split = (r: Reading): string => SPLIT_KEYS.map((k) => mib(r.split[k])).join(' / ');
  for (const s of samples)
    console.log(
      `| ${String(s.scrapes)} | ${String(s.fetches)} | ${s.load1.toFixed(1)} | ${s.floor.rssMiB.toFixed(1)} | ` +
        `${s.agent.rssMiB.toFixed(1)} (${(s.agent.rssMiB / s.floor.rssMiB).toFixed(2)}×) | ${split(s.agent)} | ${split(s.floor)} |`,
    );
}

/**
 * The least-squares slope of RSS over the receiver scrapes of `samples`, MiB per 1,000 scrapes:
 * a trend that the halves' peaks alone would hide behind V8's garbage-collection swings.
 */
function rssSlope(samples: readonly Sample[]): number {
  if (samples.length < 2) return 0;
  const meanX = samples.reduce((sum, s) => sum + s.scrapes, 0) / samples.length;
  const meanY = samples.reduce((sum, s) => sum + s.agent.rssMiB, 0) / samples.length;
  let sxy = 0;
  let sxx = 0;
  for (const s of samples) {
    sxy += (s.scrapes - meanX) * (s.agent.rssMiB - meanY);
    sxx += (s.scrapes - meanX) ** 2;
  }
  return sxx === 0 ? 0 : (1000 * sxy) / sxx;
}

/** One collector's figures over the run, for the summary. */
function figuresOf(samples: readonly Sample[], intervalMs: number, warmAfter = 200) {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) throw new Error('no samples');
  // From 200 scrapes on: the collector has warmed up (every series seen, every path compiled).
  const warmFrom = Math.min(warmAfter, last.scrapes);
  const warm = samples.filter((s) => s.scrapes >= warmFrom);
  // Halves of the warm part of the run.
  const half = (warmFrom + last.scrapes) / 2;
  const firstHalf = warm.filter((s) => s.scrapes <= half).map((s) => s.agent.rssMiB);
  const later = warm.filter((s) => s.scrapes > half).map((s) => s.agent.rssMiB);
  // A run too short for two warm samples compares its last sample with itself.
  const secondHalf = later.length > 0 ? later : [last.agent.rssMiB];
  const firstMax = Math.max(...(firstHalf.length > 0 ? firstHalf : secondHalf));
  const secondMax = Math.max(...secondHalf);
  const ratios = warm.map((s) => s.agent.rssMiB / s.floor.rssMiB);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    scrapes: last.scrapes,
    fetches: last.fetches,
    rssStartMiB: round(first.agent.rssMiB),
    /** The first sample counted as warm: after 200 scrapes (1 at 10 s). */
    warmFrom,
    rss200MiB: round(warm[0]?.agent.rssMiB ?? 0),
    rssEndMiB: round(last.agent.rssMiB),
    rssMaxMiB: round(Math.max(...warm.map((s) => s.agent.rssMiB))),
    worstRatio: round(Math.max(...ratios)),
    endRatio: round(last.agent.rssMiB / last.floor.rssMiB),
    /** RSS peak of the second half of the run minus that of the first (from 200 scrapes on). */
    growthMiB: round(secondMax - firstMax),
    flat: secondMax <= firstMax * 1.05,
    /** RSS trend from 200 scrapes on, MiB per 1,000 scrapes ({@link rssSlope}). */
    slopeMiBPer1000: round(rssSlope(warm)),
    heapUsedEndMiB: round(last.agent.split.heap_used / MIB),
    /** RSS by mapping at the end, the collector's and the floor's at the same moment. */
    mappingsEnd: mappingsOf(last.agent.mappings, round),
    floorMappingsEnd: mappingsOf(last.floor.mappings, round),
    cpuMsPerScrape: round((last.agent.cpuMs - first.agent.cpuMs) / Math.max(1, last.scrapes)),
    intervalMs,
    /** The collector's CPU time over the run's wall time, %: how busy its interval keeps it. */
    dutyPercent: round((100 * (last.agent.cpuMs - first.agent.cpuMs)) / Math.max(1, last.atMs - first.atMs)),
    loadMin: round(Math.min(...samples.map((s) => s.load1))),
    loadMax: round(Math.max(...samples.map((s) => s.load1))),
  };
}

function mappingsOf(m: Mappings, round: (x: number) => number): Mappings {
  return { files: round(m.files), malloc: round(m.malloc), anonymous: round(m.anonymous) };
}

function printSummary(
  procfsSamples: readonly Sample[],
  defaultSamples: readonly Sample[],
  realSamples: readonly Sample[] | undefined,
  wallS: number,
): void {
  const procfs = figuresOf(procfsSamples, INTERVAL_MS);
  const deflt = figuresOf(defaultSamples, DEFAULT_INTERVAL_MS);
  // At 10 s, every sample after the first scrape counts.
  const real = realSamples === undefined ? undefined : figuresOf(realSamples, REAL_INTERVAL_MS, 1);
  const floors = [...procfsSamples, ...defaultSamples, ...(realSamples ?? [])].map((s) => s.floor.rssMiB);
  const summary = {
    scrapes: SCRAPES,
    defaultScrapes: DEFAULT_SCRAPES,
    intervalMs: INTERVAL_MS,
    defaultIntervalMs: DEFAULT_INTERVAL_MS,
    realScrapes: REAL_SCRAPES,
    wallSeconds: Math.round(wallS),
    flags: [...HEAP_FLAGS, ...NODE_FLAGS].join(' '),
    floor: { rssMinMiB: Math.min(...floors), rssMaxMiB: Math.max(...floors) },
    procfs,
    default: deflt,
    real,
    goals: {
      procfsWithin115: procfs.worstRatio <= 1.15,
      defaultWithin130: deflt.worstRatio <= 1.3 && (real === undefined || real.worstRatio <= 1.3),
      flat: procfs.flat && deflt.flat,
    },
  };
  const mapping = (f: typeof procfs, k: keyof Mappings): string =>
    `${f.mappingsEnd[k].toFixed(1)} (${f.floorMappingsEnd[k].toFixed(1)})`;
  const line = (name: string, f: typeof procfs): string =>
    `${name}: ${String(f.scrapes)} scrapes at ${String(f.intervalMs)} ms, ${String(f.fetches)} fetches, load ${f.loadMin.toFixed(1)}–${f.loadMax.toFixed(1)}; ` +
    `RSS ${f.rssStartMiB.toFixed(1)} at start, ${f.rss200MiB.toFixed(1)} after ${String(f.warmFrom)} scrapes, ${f.rssEndMiB.toFixed(1)} at the end ` +
    `(max ${f.rssMaxMiB.toFixed(1)}); × floor: worst ${f.worstRatio.toFixed(2)}, end ${f.endRatio.toFixed(2)}; ` +
    `second half vs first ${f.growthMiB >= 0 ? '+' : ''}${f.growthMiB.toFixed(1)} MiB (${f.flat ? 'flat' : 'GROWING'}), ` +
    `trend ${f.slopeMiBPer1000 >= 0 ? '+' : ''}${f.slopeMiBPer1000.toFixed(2)} MiB per 1,000 scrapes; ` +
    `CPU ${f.cpuMsPerScrape.toFixed(2)} ms per scrape interval, busy ${f.dutyPercent.toFixed(1)} % of the time; ` +
    `RSS MiB by mapping at the end (floor's): files ${mapping(f, 'files')}, malloc heap ${mapping(f, 'malloc')}, ` +
    `anonymous (V8 heap…) ${mapping(f, 'anonymous')}`;
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log('\n== agent-memory summary ==');
  console.log(
    `procfs-only ${String(SCRAPES)} scrapes at ${String(INTERVAL_MS)} ms, default configuration ${String(DEFAULT_SCRAPES)} ` +
      `at ${String(DEFAULT_INTERVAL_MS)} ms` +
      (real === undefined ? '' : ` and ${String(REAL_SCRAPES)} at 10 s`) +
      ` in ${String(summary.wallSeconds)} s; ` +
      `flags ${summary.flags}`,
  );
  console.log(`floor: RSS ${summary.floor.rssMinMiB.toFixed(1)}–${summary.floor.rssMaxMiB.toFixed(1)} MiB`);
  console.log(line('procfs-only', procfs));
  console.log(line('default', deflt));
  if (real !== undefined) console.log(line('default at 10 s', real));
  console.log(
    `goals: procfs-only ≤ 1.15× floor ${met(summary.goals.procfsWithin115)}; default ≤ 1.3× (both intervals) ${met(
      summary.goals.defaultWithin130,
    )}; flat (procfs-only over ${String(procfs.scrapes)} scrapes, default over ${String(deflt.scrapes)}) ${met(summary.goals.flat)}`,
  );
  if (Math.min(procfs.scrapes, deflt.scrapes) < SETTLED_SCRAPES)
    console.log(
      `note: the ratios were read before ${SETTLED_SCRAPES.toLocaleString('en')} scrapes; a long run settles above them ` +
        '(docs/performance.md, "10,000 scrapes of both")',
    );
  console.log(`AGENT_MEMORY_SUMMARY ${JSON.stringify(summary)}`);
  console.log('== end ==');
}

await main();
