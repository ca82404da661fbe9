/**
 * The postgresql exporter's COPY throughput, run by hand:
 * `node bench/postgresql.bench.ts [--rows 500000] [--batch 10000] [--runs 3] [--warmup 1]
 * [--consumers 2] [--fresh-attributes]`.
 *
 * A private PostgreSQL 15 (test/support/postgres.ts) with kwollect's schema (the exporter
 * creates it: primary key and indexes included). In each run, the same rows go into
 * `metrics` twice, the table emptied in between:
 *
 * 1. the floor: `psql -c "\copy metrics … FROM file"` of the rows as COPY text, written to
 *    a file beforehand; its CPU is psql's (user + system, from bash's `time`);
 * 2. ours: the batches (gauges with a device id and a label, as receivers produce them)
 *    exported through the exporter with its memory queue, until the queue is empty; its CPU
 *    is this process's (`process.cpuUsage`), which includes the conversion to COPY text,
 *    queueing and the driver.
 *
 * Each series keeps one attributes object from batch to batch, as the SDK hands them over
 * from a scraper's SnapshotProducer (a held series, or the object a scraper observes with);
 * `--fresh-attributes` makes a new object for every point instead (a producer that builds
 * its attributes anew at each collection), so that nothing is remembered per series.
 *
 * `--warmup` runs (1 by default) come first and are printed but left out of the worst: they
 * compile the exporter's code (a collector runs for days; psql has nothing to compile).
 *
 * Printed per run: rows per second (wall clock) of both, CPU seconds, rows per CPU-second,
 * the ratio of our CPU to psql's, and the load average. Goal: at least 100,000 rows/s and at
 * most 2× the floor's CPU. The worst run is printed last.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { configSchema } from '../exporters/postgresql/config.ts';
import { PostgresqlExporter } from '../exporters/postgresql/postgresql.ts';
import { COPY_COLUMNS, toCopyRows } from '../exporters/postgresql/rows.ts';
import { batchOf, numberMetric } from '../exporters/postgresql/testdata/batches.ts';
import { createLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { POSTGRES_BIN, startPostgres } from '../test/support/postgres.ts';
import { createTestSettings } from '../test/support/settings.ts';

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

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** ROWS points: METRICS metrics per device, one per second each, split into BATCH-point batches. */
function makeBatches(): ResourceMetrics[] {
  const devices = 1000;
  const batches: ResourceMetrics[] = [];
  const start = Date.parse('2026-01-01T00:00:00Z') / 1000;
  const attributesOf = (device: number): Record<string, string> => ({
    device_id: `node-${String(device)}`,
    rack: `rack-${String(device % 40)}`,
  });
  // One object per series (metric, device), as a producer holds it.
  const series = Array.from({ length: METRICS }, () =>
    Array.from({ length: devices }, (_, d) => attributesOf(d)),
  );
  let made = 0;
  for (let second = 0; made < ROWS; second += 1) {
    for (let first = 0; first < devices && made < ROWS; first += BATCH / METRICS) {
      const count = Math.min(BATCH / METRICS, devices - first, Math.ceil((ROWS - made) / METRICS));
      const metrics = Array.from({ length: METRICS }, (_, m) =>
        numberMetric(
          `kwollect_metric_${String(m)}`,
          Array.from({ length: count }, (_, d) => ({
            attributes: FRESH_ATTRIBUTES ? attributesOf(first + d) : (series[m]?.[first + d] ?? {}),
            value: (second * 7 + m * 13 + d) / 8,
            time: [start + second, 123_456_000] as [number, number],
          })),
        ),
      );
      const batch = batchOf(metrics);
      batches.push(batch);
      made += countPoints(batch);
    }
  }
  return batches;
}

async function main(): Promise<void> {
  console.log(
    `postgresql exporter: ${String(ROWS)} rows in batches of ${String(BATCH)}, ${String(CONSUMERS)} consumer(s), ${String(RUNS)} runs after ${String(WARMUP)} warm-up, ${FRESH_ATTRIBUTES ? 'a new attributes object per point' : 'one attributes object per series'}`,
  );
  const server = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-pg-bench-'));
  try {
    const db = await server.createDatabase('kwbench');
    const config = configSchema.parse({
      db_host: server.host,
      db_port: server.port,
      db_name: db,
      db_user: server.user,
      sending_queue: { queue_size: ROWS * 2, max_bytes: '1GiB', num_consumers: CONSUMERS },
    });
    const batches = makeBatches();
    const total = batches.reduce((n, b) => n + countPoints(b), 0);
    const file = join(dir, 'rows.copy');
    writeFileSync(
      file,
      Buffer.concat(
        batches.map((b) => toCopyRows(b, { deviceIdAttributes: ['device_id'], resourceLabels: [] }).text),
      ),
    );
    // Creates the schema.
    const setup = new PostgresqlExporter(createTestSettings('postgresql', 'exporter'), config);
    await setup.start();
    await setup.shutdown();
    await server.query(`SELECT 1 FROM metrics LIMIT 1`, undefined, db);

    const results: { floorRate: number; floorCpu: number; ourRate: number; ourCpu: number; load: string }[] =
      [];
    for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
      await server.query('TRUNCATE metrics; CHECKPOINT', undefined, db);
      const psql = join(POSTGRES_BIN, 'psql');
      const script = `TIMEFORMAT='%3U %3S'; time ${psql} -X -q -h ${server.host} -p ${String(server.port)} -U ${server.user} -d ${db} -c "\\copy metrics (${COPY_COLUMNS.replaceAll('"', '\\"')}) FROM '${file}'"`;
      const floorStart = performance.now();
      const floor = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      const floorWall = (performance.now() - floorStart) / 1000;
      if (floor.status !== 0) throw new Error(`psql failed: ${floor.stderr}`);
      const [user, system] = floor.stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
      const floorCpu = (user ?? Number.NaN) + (system ?? Number.NaN);
      await expectCount(server.query.bind(server), db, total);

      await server.query('TRUNCATE metrics; CHECKPOINT', undefined, db);
      // Warnings (a send that failed and is retried) are printed: they explain a slow run.
      const settings = { ...createTestSettings('postgresql', 'exporter'), logger: createLogger('warn') };
      const exporter = new PostgresqlExporter(settings, config, { flushTimeoutMs: 600_000 });
      await exporter.start();
      const cpuStart = process.cpuUsage();
      const ourStart = performance.now();
      for (const batch of batches) {
        await new Promise<void>((resolve, reject) => {
          exporter.export(batch, (result) => {
            if (result.code === ExportResultCode.SUCCESS) resolve();
            else reject(result.error ?? new Error('export failed'));
          });
        });
      }
      await exporter.forceFlush();
      const ourWall = (performance.now() - ourStart) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      const ourCpu = (cpu.user + cpu.system) / 1e6;
      await exporter.shutdown();
      await expectCount(server.query.bind(server), db, total);

      const row = {
        floorRate: total / floorWall,
        floorCpu,
        ourRate: total / ourWall,
        ourCpu,
        load: load(),
      };
      if (run < 1) {
        print('warm-up', row, total);
        continue;
      }
      results.push(row);
      print(`run ${String(run)}`, row, total);
    }
    const worst = results.reduce((a, b) => (b.ourCpu / b.floorCpu > a.ourCpu / a.floorCpu ? b : a));
    print('worst', worst, total);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function expectCount(
  query: (sql: string, params: undefined, db: string) => Promise<Record<string, unknown>[]>,
  db: string,
  total: number,
): Promise<void> {
  const [row] = await query('SELECT count(*)::int AS n FROM metrics', undefined, db);
  if (row?.n !== total) throw new Error(`expected ${String(total)} rows, found ${String(row?.n)}`);
}

function print(
  label: string,
  r: { floorRate: number; floorCpu: number; ourRate: number; ourCpu: number; load: string },
  total: number,
): void {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(
    `${label}: psql \\copy ${fmt(r.floorRate)} rows/s, ${r.floorCpu.toFixed(2)} CPU-s (${fmt(total / r.floorCpu)} rows/CPU-s)` +
      ` | ours ${fmt(r.ourRate)} rows/s, ${r.ourCpu.toFixed(2)} CPU-s (${fmt(total / r.ourCpu)} rows/CPU-s)` +
      ` | CPU ratio ours/psql ${(r.ourCpu / r.floorCpu).toFixed(2)}x, wall ratio ${(r.floorRate / r.ourRate).toFixed(2)}x | load ${r.load}`,
  );
}

// The delivery's timers do not hold the process: a run that waits on a retry must not end it.
const keepAlive = setInterval(() => undefined, 1 << 30);
await main().finally(() => {
  clearInterval(keepAlive);
});
