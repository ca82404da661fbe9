/**
 * The postgresql exporter's COPY throughput, run by hand:
 * `node bench/postgresql.bench.ts [--rows 500000] [--batch 10000] [--runs 3] [--warmup 1]
 * [--consumers 2] [--fresh-attributes] [--format binary|text]`.
 *
 * Our two sides write the COPY form the exporter chooses on kwollect's schema, the binary
 * one (`--format binary`, the default: `copy_format: auto`); `--format text` makes them write
 * COPY text (`copy_format: text`), as on a table of other types. The floors always send the
 * same COPY text.
 *
 * A private PostgreSQL 15 (test/support/postgres.ts) with kwollect's schema (the exporter
 * creates it: primary key and indexes included). In each run, the same rows go into
 * `metrics` five times, interleaved so that all five see the same load, the table emptied in
 * between:
 *
 * 1. the floor: `psql -c "\copy metrics … FROM file"` of the rows as COPY text, written to
 *    a file beforehand; its CPU is psql's (user + system, from bash's `time`);
 * 2. the Node floor without a driver: the same COPY text, already made (one buffer per
 *    batch), sent by this process through a plain `net` socket speaking the protocol
 *    (bench/support/pg-copy-wire.ts), one COPY per batch on `--consumers` connections;
 * 3. the Node floor with the driver: the same buffers through the exporter's own path to the
 *    server (`pg`'s pool, pg-copy-streams, copy.ts), nothing made, nothing queued;
 * 4. ours without a queue (`sending_queue.enabled: false`): each batch converted and written
 *    before the next is exported (the buffer of the COPY payload reused from batch to batch);
 * 5. ours: the batches (gauges with a device id and a label, as receivers produce them)
 *    exported through the exporter with its memory queue, until the queue is empty; its CPU
 *    is this process's (`process.cpuUsage`), which includes the conversion to COPY's form,
 *    queueing and the driver. The batches are exported as fast as the queue takes them, so it
 *    holds most of them at once (a collector catching up), each kept as exported and converted
 *    when sent, into a buffer reused once written.
 *
 * Each of our two sides is one exporter, started once and kept for the whole benchmark, as a
 * collector keeps its exporter: what it learns per series (fields, row parts) stays from run
 * to run and the warm-up learns it. A new exporter per run learnt the 10,000 series every time
 * and left some 10 MB of that behind at its shutdown, which drew full collections (of the
 * benchmark's 500,000 points held beside) into whichever side ran next.
 *
 * Our two sides' batches are made when exported, each just before its `export` call, and
 * dropped once exported, as a collector's producer hands a batch over and lets it go; the CPU
 * and wall time of making them (synchronous, on the main thread, measured around each call) is
 * left out of the side's figures, and printed beside them. Until then the benchmark made all
 * its batches once and held them for the whole run: some 70 MB of point objects that no
 * collector holds, which every full collection our side started had to mark, charged to us
 * (a run at 4.34× psql's CPU, 0.24 µs a row of it on V8's helper threads). Our own garbage
 * and collections are still counted: the process's CPU on every thread, but for the making.
 * The psql file and the Node floors' buffers are made once beforehand (COPY text, outside
 * V8's heap).
 *
 * The Node floors' CPU is this process's too, during their sending only. What separates ours
 * from the driver's floor is making the rows (and queueing them); what separates the driver's
 * floor from psql's is Node and the driver.
 *
 * Each series keeps one attributes object from batch to batch, as the SDK hands them over
 * from a scraper's SnapshotProducer (a held series, or the object a scraper observes with);
 * `--fresh-attributes` makes a new object for every point instead (a producer that builds
 * its attributes anew at each collection), so that nothing is remembered per series.
 *
 * `--warmup` runs (1 by default) come first and are printed but left out of the worst: they
 * compile the exporter's code (a collector runs for days; psql has nothing to compile).
 *
 * Printed per run and side: rows per second (wall clock), CPU seconds, CPU per row, the ratio
 * of its CPU to psql's, for the Node sides the part of their CPU used by threads other than the
 * main one (mostly V8's concurrent garbage collection), the load average when it ended, and for
 * our sides the CPU of making the batches (left out). Then a summary of the runs (the range of
 * each, the worst being the highest ratio) and the goal: at least 100,000 rows/s and at most
 * 2× psql's CPU.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import pg from 'pg';
import { configSchema } from '../exporters/postgresql/config.ts';
import type { PostgresqlExporterConfig } from '../exporters/postgresql/config.ts';
import { PostgresqlExporter } from '../exporters/postgresql/postgresql.ts';
import { COPY_COLUMNS, toCopyRows } from '../exporters/postgresql/rows.ts';
import { writeRows } from '../exporters/postgresql/copy.ts';
import { batchOf } from '../exporters/postgresql/testdata/batches.ts';
import { createLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { POSTGRES_BIN, startPostgres } from '../test/support/postgres.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { WireCopyConnection } from './support/pg-copy-wire.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROWS = arg('rows', 500_000);
const BATCH = arg('batch', 10_000);
const RUNS = arg('runs', 3);
const WARMUP = arg('warmup', 1);
const METRICS = 10;
const CONSUMERS = arg('consumers', 2);
const FRESH_ATTRIBUTES = args.includes('--fresh-attributes');
const FORMAT = args.includes('--format') ? args[args.indexOf('--format') + 1] : 'binary';
if (FORMAT !== 'binary' && FORMAT !== 'text') throw new Error('--format: binary or text');

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/**
 * ROWS points: METRICS metrics per device, one per second each, in BATCH-point batches, each
 * made when asked for (`make(i)`, the same points every time) and dropped once exported, as a
 * collector's producer hands over a batch and lets it go. Only the series' attributes objects
 * are kept from batch to batch.
 */
function batchMaker(): { readonly count: number; readonly make: (index: number) => ResourceMetrics } {
  const devices = 1000;
  const start = Date.parse('2026-01-01T00:00:00Z') / 1000;
  const attributesOf = (device: number): Record<string, string> => ({
    device_id: `node-${String(device)}`,
    rack: `rack-${String(device % 40)}`,
  });
  // One object per series (metric, device), as a producer holds it.
  const series = Array.from({ length: METRICS }, () =>
    Array.from({ length: devices }, (_, d) => attributesOf(d)),
  );
  // Each batch's second, first device and devices.
  const plan: { second: number; first: number; count: number }[] = [];
  let made = 0;
  for (let second = 0; made < ROWS; second += 1) {
    for (let first = 0; first < devices && made < ROWS; first += BATCH / METRICS) {
      const count = Math.min(BATCH / METRICS, devices - first, Math.ceil((ROWS - made) / METRICS));
      plan.push({ second, first, count });
      made += count * METRICS;
    }
  }
  // A metric's descriptor is the instrument's, the same object at every collection.
  const descriptors = Array.from({ length: METRICS }, (_, m) => ({
    name: `kwollect_metric_${String(m)}`,
    description: '',
    unit: '',
    valueType: ValueType.DOUBLE,
  }));
  const make = (index: number): ResourceMetrics => {
    const { second, first, count } = plan[index] ?? { second: 0, first: 0, count: 0 };
    // One time array for the batch's points, as the SDK hands a collection's time to each.
    const time: HrTime = [start + second, 123_456_000];
    const metrics = descriptors.map((descriptor, m): MetricData => ({
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: Array.from({ length: count }, (_, d) => ({
        startTime: time,
        endTime: time,
        attributes: FRESH_ATTRIBUTES ? attributesOf(first + d) : (series[m]?.[first + d] ?? {}),
        value: (second * 7 + m * 13 + d) / 8,
      })),
    }));
    return batchOf(metrics);
  };
  return { count: plan.length, make };
}

/** One side's figures in one run. */
interface Side {
  readonly rate: number;
  readonly cpu: number;
  /** Of `cpu`, what threads other than the main one used (V8's garbage collector and compiler, libuv's pool); NaN for psql. */
  readonly helpers: number;
  /** CPU seconds the benchmark spent making the batches this side exported, left out of `cpu`; 0 for the others. */
  readonly made: number;
  readonly load: string;
}

interface Run {
  readonly psql: Side;
  readonly driver: Side;
  readonly wire: Side;
  readonly unqueued: Side;
  readonly ours: Side;
}

const SIDES = [
  ['psql', 'psql \\copy (floor)'],
  ['wire', 'node, net socket'],
  ['driver', 'node, pg driver'],
  ['unqueued', 'ours, no queue'],
  ['ours', 'ours (exporter)'],
] as const;

async function main(): Promise<void> {
  console.log(
    `postgresql exporter: ${String(ROWS)} rows in batches of ${String(BATCH)}, ${String(CONSUMERS)} consumer(s), ${String(RUNS)} runs after ${String(WARMUP)} warm-up, ${FRESH_ATTRIBUTES ? 'a new attributes object per point' : 'one attributes object per series'}, ours in COPY ${FORMAT}`,
  );
  const server = await startPostgres();
  const exporters: PostgresqlExporter[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-pg-bench-'));
  try {
    const db = await server.createDatabase('kwbench');
    const config = configSchema.parse({
      db_host: server.host,
      db_port: server.port,
      db_name: db,
      db_user: server.user,
      sending_queue: { queue_size: ROWS * 2, max_bytes: '1GiB', num_consumers: CONSUMERS },
      copy_format: FORMAT === 'text' ? 'text' : 'auto',
    });
    const batches = batchMaker();
    // The same without a sending queue: each batch converted and written before the next.
    const unqueuedConfig = configSchema.parse({
      db_host: server.host,
      db_port: server.port,
      db_name: db,
      db_user: server.user,
      sending_queue: { enabled: false },
      copy_format: FORMAT === 'text' ? 'text' : 'auto',
    });
    // The COPY text of every batch, made once: psql's file, and what the Node floors send.
    let total = 0;
    const texts = Array.from({ length: batches.count }, (_, i) => {
      const batch = batches.make(i);
      total += countPoints(batch);
      return toCopyRows(batch, { deviceIdAttributes: ['device_id'], resourceLabels: [] }).text;
    });
    const file = join(dir, 'rows.copy');
    writeFileSync(file, Buffer.concat(texts));
    // Creates the schema.
    const setup = new PostgresqlExporter(createTestSettings('postgresql', 'exporter'), config);
    await setup.start();
    await setup.shutdown();
    await server.query(`SELECT 1 FROM metrics LIMIT 1`, undefined, db);
    const target = { host: server.host, port: server.port, user: server.user, database: db };
    const emptied = async (): Promise<void> => {
      await server.query('TRUNCATE metrics; CHECKPOINT', undefined, db);
    };
    const counted = (): Promise<void> => expectCount(server.query.bind(server), db, total);

    const unqueuedExporter = await startExporter(unqueuedConfig);
    const queuedExporter = await startExporter(config);
    exporters.push(unqueuedExporter, queuedExporter);
    const results: Run[] = [];
    for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
      // Interleaved: every side sees the same load.
      await emptied();
      const psql = runPsql(target, file, total);
      await counted();
      await emptied();
      const wire = await measure(total, () => sendByWire(target, texts));
      await counted();
      await emptied();
      const driver = await measure(total, () => sendByDriver(target, texts));
      await counted();
      await emptied();
      const unqueued = await measure(total, (excluded) => exportAll(unqueuedExporter, batches, excluded));
      await counted();
      await emptied();
      const ours = await measure(total, (excluded) => exportAll(queuedExporter, batches, excluded));
      await counted();

      const row: Run = { psql, wire, driver, unqueued, ours };
      if (run < 1) {
        printRun('warm-up', row, total);
        continue;
      }
      results.push(row);
      printRun(`run ${String(run)}`, row, total);
    }
    printSummary(results, total);
  } finally {
    for (const exporter of exporters) await exporter.shutdown();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

/** psql's `\copy` of the file; its CPU is psql's (user + system, from bash's `time`). */
function runPsql(target: Target, file: string, total: number): Side {
  const psql = join(POSTGRES_BIN, 'psql');
  const script = `TIMEFORMAT='%3U %3S'; time ${psql} -X -q -h ${target.host} -p ${String(target.port)} -U ${target.user} -d ${target.database} -c "\\copy metrics (${COPY_COLUMNS.replaceAll('"', '\\"')}) FROM '${file}'"`;
  const start = performance.now();
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const wall = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
  const [user, system] = result.stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  return {
    rate: total / wall,
    cpu: (user ?? Number.NaN) + (system ?? Number.NaN),
    helpers: Number.NaN,
    made: 0,
    load: load(),
  };
}

/** The bench's own work inside a measured side (making the batches), left out of its figures. */
interface Excluded {
  /** CPU seconds of the main thread. */
  cpu: number;
  /** Seconds of wall clock. */
  wall: number;
}

/**
 * Runs `work` in this process; its CPU is this process's (`process.cpuUsage`) meanwhile, less
 * what `work` reports in `excluded` (the benchmark making the batches it exports: synchronous,
 * on the main thread, so measured exactly by `process.threadCpuUsage` around it).
 */
async function measure(total: number, work: (excluded: Excluded) => Promise<void>): Promise<Side> {
  const excluded: Excluded = { cpu: 0, wall: 0 };
  const cpuStart = process.cpuUsage();
  const mainStart = process.threadCpuUsage();
  const start = performance.now();
  await work(excluded);
  const wall = (performance.now() - start) / 1000 - excluded.wall;
  const cpu = process.cpuUsage(cpuStart);
  const main = process.threadCpuUsage(mainStart);
  return {
    rate: total / wall,
    cpu: (cpu.user + cpu.system) / 1e6 - excluded.cpu,
    helpers: (cpu.user + cpu.system - main.user - main.system) / 1e6,
    made: excluded.cpu,
    load: load(),
  };
}

/** `CONSUMERS` workers, each taking the next of `texts` until none is left. */
async function inParallel(
  texts: readonly Uint8Array[],
  send: (text: Uint8Array) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < texts.length) {
      const text = texts[next] ?? new Uint8Array(0);
      next += 1;
      await send(text);
    }
  };
  await Promise.all(Array.from({ length: CONSUMERS }, worker));
}

/**
 * Node floor 1: the COPY text, already made, through a plain socket speaking the protocol
 * (bench/support/pg-copy-wire.ts), one COPY per batch, `CONSUMERS` connections.
 */
async function sendByWire(target: Target, texts: readonly Uint8Array[]): Promise<void> {
  const connections = await Promise.all(
    Array.from({ length: CONSUMERS }, () =>
      WireCopyConnection.open(target.host, target.port, target.user, target.database),
    ),
  );
  const idle = [...connections];
  const sql = `COPY metrics (${COPY_COLUMNS}) FROM STDIN`;
  await inParallel(texts, async (text) => {
    const connection = idle.pop();
    if (connection === undefined) throw new Error('no idle connection');
    await connection.copy(sql, text);
    idle.push(connection);
  });
  await Promise.all(connections.map((c) => c.close()));
}

/**
 * Node floor 2: the COPY text, already made, through the exporter's own path to the server
 * (`pg`'s pool, pg-copy-streams, copy.ts's `writeRows`), one COPY per batch, `CONSUMERS`
 * connections; no conversion, no queue.
 */
async function sendByDriver(target: Target, texts: readonly Uint8Array[]): Promise<void> {
  const pool = new pg.Pool({ ...target, max: CONSUMERS });
  await inParallel(texts, async (text) => {
    const client = await pool.connect();
    try {
      const report = await writeRows(client, text);
      if (report.refused.length > 0 || report.duplicates > 0) throw new Error('rows refused or duplicated');
    } finally {
      client.release();
    }
  });
  await pool.end();
}

/** The exporter made with `config`, started; it is kept for every run. */
async function startExporter(config: PostgresqlExporterConfig): Promise<PostgresqlExporter> {
  // Warnings (a send that failed and is retried) are printed: they explain a slow run.
  const settings = { ...createTestSettings('postgresql', 'exporter'), logger: createLogger('warn') };
  const exporter = new PostgresqlExporter(settings, config, { flushTimeoutMs: 600_000 });
  await exporter.start();
  return exporter;
}

/**
 * Every batch exported through the exporter (and its queue, if any), until it is empty; each
 * batch made just before it is exported, the time it takes added to `excluded`.
 */
async function exportAll(
  exporter: PostgresqlExporter,
  batches: ReturnType<typeof batchMaker>,
  excluded: Excluded,
): Promise<void> {
  for (let i = 0; i < batches.count; i += 1) {
    const cpuStart = process.threadCpuUsage();
    const start = performance.now();
    const batch = batches.make(i);
    const cpu = process.threadCpuUsage(cpuStart);
    excluded.cpu += (cpu.user + cpu.system) / 1e6;
    excluded.wall += (performance.now() - start) / 1000;
    await new Promise<void>((resolve, reject) => {
      exporter.export(batch, (result) => {
        if (result.code === ExportResultCode.SUCCESS) resolve();
        else reject(result.error ?? new Error('export failed'));
      });
    });
  }
  await exporter.forceFlush();
}

async function expectCount(
  query: (sql: string, params: undefined, db: string) => Promise<Record<string, unknown>[]>,
  db: string,
  total: number,
): Promise<void> {
  const [row] = await query('SELECT count(*)::int AS n FROM metrics', undefined, db);
  if (row?.n !== total) throw new Error(`expected ${String(total)} rows, found ${String(row?.n)}`);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function sideLine(name: string, side: Side, psql: Side, total: number): string {
  const ratio = name.startsWith('psql') ? '' : `CPU ${(side.cpu / psql.cpu).toFixed(2)}x psql's`;
  return (
    `  ${name.padEnd(20)} ${fmt(side.rate).padStart(9)} rows/s  ${side.cpu.toFixed(3)} CPU-s` +
    `  ${((side.cpu / total) * 1e6).toFixed(2)} µs/row  ${ratio.padEnd(18)}` +
    `  ${Number.isNaN(side.helpers) ? ''.padEnd(26) : `other threads ${((side.helpers / total) * 1e6).toFixed(2)} µs/row`}` +
    `  load ${side.load}` +
    (side.made > 0
      ? `  (making the batches: ${((side.made / total) * 1e6).toFixed(2)} µs/row, left out)`
      : '')
  );
}

function printRun(label: string, run: Run, total: number): void {
  console.log(`${label}:`);
  for (const [key, name] of SIDES) console.log(sideLine(name, run[key], run.psql, total));
}

/** The worst of the runs: each side's highest CPU ratio to psql, and our lowest rate. */
function printSummary(results: readonly Run[], total: number): void {
  if (results.length === 0) return;
  const range = (f: (r: Run) => number, digits: number): string => {
    const values = results.map(f);
    return `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
  };
  const loads = results.flatMap((r) => SIDES.map(([key]) => Number(r[key].load.split(' ')[0])));
  console.log(
    `summary of ${String(results.length)} runs (load, 1 min: ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}):`,
  );
  for (const [key, name] of SIDES) {
    const ratio =
      key === 'psql'
        ? ''
        : `, CPU ${range((r) => r[key].cpu / r.psql.cpu, 2)}x psql's (the worst is the higher)`;
    console.log(
      `  ${name.padEnd(20)} ${fmt(Math.min(...results.map((r) => r[key].rate)))}-${fmt(Math.max(...results.map((r) => r[key].rate)))} rows/s, ` +
        `${range((r) => r[key].cpu, 3)} CPU-s, ${range((r) => (r[key].cpu / total) * 1e6, 2)} µs/row${ratio}`,
    );
  }
  const worstOurs = Math.max(...results.map((r) => r.ours.cpu / r.psql.cpu));
  const slowest = Math.min(...results.map((r) => r.ours.rate));
  console.log(
    `goal: >= 100,000 rows/s (worst ${fmt(slowest)}: ${slowest >= 100_000 ? 'met' : 'not met'}), ` +
      `<= 2x psql's CPU (worst ${worstOurs.toFixed(2)}x: ${worstOurs <= 2 ? 'met' : 'not met'})`,
  );
}

// The delivery's timers do not hold the process: a run that waits on a retry must not end it.
const keepAlive = setInterval(() => undefined, 1 << 30);
await main().finally(() => {
  clearInterval(keepAlive);
});
