import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../exporters/postgresql/config.ts';
import { PostgresqlExporter } from '../exporters/postgresql/postgresql.ts';
import { at, batchOf, numberMetric } from '../exporters/postgresql/testdata/batches.ts';
import { createLogger } from '../kit/logger.ts';
import type { RunningTimescale } from './support/pglite-timescaledb.ts';
import { startTimescale } from './support/pglite-timescaledb.ts';
import { createTestSettings } from './support/settings.ts';

// The postgresql exporter on a database where TimescaleDB is available but not installed
// (PGlite's PostgreSQL 17.5 in WebAssembly with TimescaleDB 2.23.0-dev, served over the
// wire protocol): it installs the extension and makes `metrics` a hypertable of 12-hour
// chunks, writes batches by COPY (a batch delivered again through INSERT … ON CONFLICT),
// every row reads back exactly, and the views and API functions answer on the hypertable.
// Then a site's existing hypertable (TimescaleDB's default indexes, its own chunk interval)
// is written into and left as it was.

let server: RunningTimescale;

beforeAll(async () => {
  server = await startTimescale();
}, 300_000);
afterAll(async () => {
  await (server as RunningTimescale | undefined)?.stop();
});

function exportBatch(exporter: PostgresqlExporter, batch: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    exporter.export(batch, resolve);
  });
}

interface Row {
  ts: string;
  device_id: string;
  metric_id: string;
  value: number;
  labels: Record<string, unknown>;
}

const ROW_SQL = `SET TIME ZONE 'UTC'; SELECT "timestamp"::text AS ts, device_id, metric_id, value, labels`;

function rows(from: string, where = 'true'): Promise<Row[]> {
  return server.query<Row>(`${ROW_SQL} FROM ${from} WHERE ${where} ORDER BY 1, 2, 3, labels::text`);
}

// Rows on both sides of the 12-hour chunk boundaries (00:00 and 12:00 UTC) over three days,
// with values and times that are exact only if nothing rounds them.
const JOB = {
  'inframeter.cgroups.job.scheduler': 'oar',
  'inframeter.cgroups.job.id': '1234',
  'inframeter.cgroups.job.user': 'alice',
};
const first = batchOf([
  numberMetric('pdu_power_watt', [
    {
      attributes: { device_id: 'node-1', _device_alias: 'rack-1' },
      value: 231.12345678901235,
      time: at('2020-01-06T11:59:59.999Z', 999),
    },
    {
      attributes: { device_id: 'node-2', _device_alias: 'rack-1' },
      value: 100.5,
      time: at('2020-01-06T11:59:59.999Z', 999),
    },
    {
      attributes: { device_id: 'node-1', _device_alias: 'rack-1' },
      value: 1e-300,
      time: at('2020-01-06T12:00:00.000Z'),
    },
  ]),
  numberMetric(
    'container.cpu.time',
    [
      {
        attributes: { 'device.id': 'node-1', 'cpu.mode': 'user', ...JOB },
        value: 9_007_199_254_740_991,
        time: at('2020-01-07T00:00:00.000Z', 1),
      },
    ],
    true,
  ),
  numberMetric('weird name\twith tab', [
    {
      attributes: { device_id: 'dev\\ice', 'quote"key': 'line\nbreak', unicode: 'éà✓' },
      value: -1.5e300,
      time: at('2020-01-08T06:30:00.123Z', 456),
    },
  ]),
]);
// The same batch again (a delivery repeated after a lost acknowledgement) and one new row.
const second = batchOf([
  ...first.scopeMetrics[0]!.metrics,
  numberMetric('temperature', [
    { attributes: { device_id: 'node-3' }, value: 21.5, time: at('2020-01-08T18:00:00.000Z') },
  ]),
]);

const EXPECTED: Row[] = [
  {
    ts: '2020-01-06 11:59:59.999999+00',
    device_id: 'node-1',
    metric_id: 'pdu_power_watt',
    value: 231.12345678901235,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-06 11:59:59.999999+00',
    device_id: 'node-2',
    metric_id: 'pdu_power_watt',
    value: 100.5,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-06 12:00:00+00',
    device_id: 'node-1',
    metric_id: 'pdu_power_watt',
    value: 1e-300,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-07 00:00:00.000001+00',
    device_id: 'node-1',
    metric_id: 'container.cpu.time',
    value: 9_007_199_254_740_991,
    labels: { 'cpu.mode': 'user', ...JOB },
  },
  {
    ts: '2020-01-08 06:30:00.123456+00',
    device_id: 'dev\\ice',
    metric_id: 'weird name\twith tab',
    value: -1.5e300,
    labels: { 'quote"key': 'line\nbreak', unicode: 'éà✓' },
  },
  {
    ts: '2020-01-08 18:00:00+00',
    device_id: 'node-3',
    metric_id: 'temperature',
    value: 21.5,
    labels: {},
  },
];

interface Logged {
  msg: string;
  schema?: string;
  rows?: number;
}

/** Runs an exporter on the server over `batches`, then closes it; what it logged and counted. */
async function exportWithExporter(
  batches: readonly ResourceMetrics[],
): Promise<{ logged: Logged[]; failed: number }> {
  const logged: Logged[] = [];
  const settings = {
    ...createTestSettings('postgresql', 'exporter'),
    logger: createLogger('debug', {
      write: (line: string) => {
        logged.push(JSON.parse(line) as Logged);
      },
    }),
  };
  const config = configSchema.parse({
    db_host: server.host,
    db_port: server.port,
    db_name: server.database,
    db_user: server.user,
    retry_on_failure: { initial_interval: '100ms', max_interval: '500ms', max_elapsed_time: 0 },
  });
  const exporter = new PostgresqlExporter(settings, config);
  await exporter.start();
  try {
    for (const batch of batches)
      expect((await exportBatch(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);
    await exporter.forceFlush();
  } finally {
    // The server serves one connection at a time: the exporter's must close before the checks.
    await exporter.shutdown();
  }
  return { logged, failed: settings.telemetry.counts.failed };
}

describe('postgresql exporter on an empty database with TimescaleDB available (PGlite)', () => {
  let logged: Logged[] = [];
  let failed = 0;

  beforeAll(async () => {
    ({ logged, failed } = await exportWithExporter([first, second]));
  }, 180_000);

  it('installs TimescaleDB and creates metrics as a hypertable of 12-hour chunks', async () => {
    expect(logged.filter((l) => l.schema !== undefined).map((l) => l.schema)).toEqual(['created-hypertable']);
    expect(await server.query("SELECT extname FROM pg_extension WHERE extname = 'timescaledb'")).toEqual([
      { extname: 'timescaledb' },
    ]);
    expect(
      await server.query(
        'SELECT hypertable_schema, hypertable_name, num_dimensions FROM timescaledb_information.hypertables',
      ),
    ).toEqual([{ hypertable_schema: 'public', hypertable_name: 'metrics', num_dimensions: 1 }]);
    expect(
      await server.query(
        `SELECT column_name, time_interval::text AS time_interval FROM timescaledb_information.dimensions
          WHERE hypertable_name = 'metrics'`,
      ),
    ).toEqual([{ column_name: 'timestamp', time_interval: '12:00:00' }]);
    // kwollect's key and indexes are the hypertable's.
    const indexes = await server.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'metrics' ORDER BY 1",
    );
    expect(indexes.map((i) => i.indexname)).toEqual([
      'metrics_alias_idx',
      'metrics_device_idx',
      'metrics_pkey',
    ]);
  });

  it('holds every row exactly, each in the chunk of its 12 hours; a batch sent twice is stored once', async () => {
    expect(await rows('metrics')).toEqual(EXPECTED);
    expect(failed).toBe(0);
    // The second batch's COPY met the primary key: its five known rows were skipped.
    expect(logged.filter((l) => l.msg === 'rows already stored were skipped').map((l) => l.rows)).toEqual([
      5,
    ]);
    const chunks = await server.query<{ range: string; rows: string }>(
      `SET TIME ZONE 'UTC';
       SELECT c.range_start::text || ' .. ' || c.range_end::text AS range,
              (SELECT count(*) FROM metrics m WHERE m."timestamp" >= c.range_start AND m."timestamp" < c.range_end)::text AS rows
         FROM timescaledb_information.chunks c
        WHERE c.hypertable_name = 'metrics'
        ORDER BY c.range_start`,
    );
    expect(chunks).toEqual([
      { range: '2020-01-06 00:00:00+00 .. 2020-01-06 12:00:00+00', rows: '2' },
      { range: '2020-01-06 12:00:00+00 .. 2020-01-07 00:00:00+00', rows: '1' },
      { range: '2020-01-07 00:00:00+00 .. 2020-01-07 12:00:00+00', rows: '1' },
      { range: '2020-01-08 00:00:00+00 .. 2020-01-08 12:00:00+00', rows: '1' },
      { range: '2020-01-08 12:00:00+00 .. 2020-01-09 00:00:00+00', rows: '1' },
    ]);
    const days = await server.query(
      `SET TIME ZONE 'UTC';
       SELECT time_bucket('1 day', "timestamp")::text AS day, count(*)::int AS n FROM metrics GROUP BY 1 ORDER BY 1`,
    );
    expect(days).toEqual([
      { day: '2020-01-06 00:00:00+00', n: 3 },
      { day: '2020-01-07 00:00:00+00', n: 1 },
      { day: '2020-01-08 00:00:00+00', n: 2 },
    ]);
  });

  it('metrics_by_device answers under the device and under its alias, summed', async () => {
    const alias = (await rows('metrics_by_device', "device_id = 'rack-1'")).map((r) => ({
      ...r,
      // array_agg's order is not defined.
      labels: { _device_orig: [...(r.labels._device_orig as string[])].sort() },
    }));
    expect(alias).toEqual([
      {
        ts: '2020-01-06 11:59:59.999999+00',
        device_id: 'rack-1',
        metric_id: 'pdu_power_watt',
        value: 231.12345678901235 + 100.5,
        labels: { _device_orig: ['node-1', 'node-2'] },
      },
      {
        ts: '2020-01-06 12:00:00+00',
        device_id: 'rack-1',
        metric_id: 'pdu_power_watt',
        value: 1e-300,
        labels: { _device_orig: ['node-1'] },
      },
    ]);
    const own = await rows('metrics_by_device', "device_id = 'node-1'");
    expect(own.map((r) => [r.metric_id, r.value, r.labels])).toEqual([
      ['pdu_power_watt', 231.12345678901235, {}],
      ['pdu_power_watt', 1e-300, {}],
      ['container.cpu.time', 9_007_199_254_740_991, { 'cpu.mode': 'user', ...JOB }],
    ]);
  });

  it('get_metrics answers by devices and time window, and by job from nodetime_per_job', async () => {
    const call = (args: string): Promise<Row[]> =>
      server.query<Row>(`${ROW_SQL} FROM api.get_metrics(${args})`);
    const window = await call(
      "devices => 'node-1.lyon.grid5000.fr,node-2', start_time => '2020-01-06T11:00:00', end_time => '2020-01-07T00:00:00.000001'",
    );
    // Rows of one time come in no defined order.
    const byTime = window
      .map((r) => [r.ts, r.device_id, r.value])
      .sort((a, b) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`));
    expect(byTime).toEqual([
      ['2020-01-06 11:59:59.999999+00', 'node-1', 231.12345678901235],
      ['2020-01-06 11:59:59.999999+00', 'node-2', 100.5],
      ['2020-01-06 12:00:00+00', 'node-1', 1e-300],
      ['2020-01-07 00:00:00.000001+00', 'node-1', 9_007_199_254_740_991],
    ]);
    const unix = await call(
      `devices => 'node-3', start_time => '${String(Date.parse('2020-01-08T17:00:00Z') / 1000)}', end_time => '1578510000'`,
    );
    expect(unix.map((r) => [r.metric_id, r.value])).toEqual([['temperature', 21.5]]);

    await server.query(
      `INSERT INTO nodetime_per_job (job_id, start_time, stop_time, node) VALUES
         (1234, '2020-01-06 11:00:00+00', '2020-01-06 12:00:00+00', 'node-1'),
         (1235, '2020-01-08 00:00:00+00', NULL, 'node-3'),
         (1236, '2020-01-06 00:00:00+00', '2020-01-07 00:00:00+00', 'rack-1')`,
    );
    expect((await rows('metrics_by_job', 'job_id = 1234')).map((r) => [r.device_id, r.value])).toEqual([
      ['node-1', 231.12345678901235],
    ]);
    expect((await rows('metrics_by_job', 'job_id = 1236')).map((r) => [r.device_id, r.value])).toEqual([
      ['rack-1', 231.12345678901235 + 100.5],
      ['rack-1', 1e-300],
    ]);
    expect((await call('job_id => 1235')).map((r) => [r.device_id, r.metric_id, r.value])).toEqual([
      ['node-3', 'temperature', 21.5],
    ]);
  });

  it('insert_metrics writes into the hypertable, read back through the default window', async () => {
    await server.query(
      "SELECT * FROM api.insert_metrics(device_id => 'node-9', metric_id => 'example_metric', value => 42)",
    );
    const recent = await server.query<Row>(`${ROW_SQL} FROM api.get_metrics(devices => 'node-9')`);
    expect(recent.map((r) => [r.metric_id, r.value])).toEqual([['example_metric', 42]]);
  });
});

describe('postgresql exporter on an existing kwollect database whose metrics is a hypertable (PGlite)', () => {
  const objects = (): Promise<Record<string, unknown>[]> =>
    server.query(
      `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' ORDER BY 1`,
    );
  let before: Record<string, unknown>[] = [];
  let logged: Logged[] = [];

  beforeAll(async () => {
    // As a site's database: kwollect's table and index, a hypertable made with TimescaleDB's
    // defaults (its time index included) and the site's own chunk interval of 1 hour.
    await server.query(
      `DROP SCHEMA IF EXISTS api CASCADE;
       DROP VIEW IF EXISTS metrics_by_job, metrics_by_device;
       DROP TABLE IF EXISTS metrics; -- a hypertable is dropped alone
       DROP TABLE IF EXISTS nodetime_per_job, promoted_metrics;
       CREATE EXTENSION IF NOT EXISTS timescaledb;
       CREATE TABLE metrics (
         timestamp   TIMESTAMPTZ       NOT NULL DEFAULT NOW(),
         device_id   TEXT              NOT NULL,
         metric_id   TEXT              NOT NULL,
         value       DOUBLE PRECISION  DEFAULT 'NaN',
         labels      JSONB             DEFAULT '{}'::JSONB,
         PRIMARY KEY(timestamp, device_id, metric_id, labels)
       );
       CREATE INDEX metrics_device_idx ON metrics(device_id, timestamp DESC);
       SELECT create_hypertable('metrics', 'timestamp', chunk_time_interval => interval '1 hour');
       CREATE TABLE promoted_metrics (device_id TEXT NOT NULL, metric_id TEXT DEFAULT NULL);`,
    );
    before = await objects();
    ({ logged } = await exportWithExporter([first, first]));
  }, 180_000);

  it('writes every row into it exactly once and changes nothing', async () => {
    expect(logged.filter((l) => l.schema !== undefined).map((l) => l.schema)).toEqual(['existing']);
    expect(await rows('metrics')).toEqual(EXPECTED.filter((r) => r.metric_id !== 'temperature'));
    expect(logged.filter((l) => l.msg === 'rows already stored were skipped').map((l) => l.rows)).toEqual([
      5,
    ]);
    // The site's objects, unchanged (chunks live in TimescaleDB's own schema): one chunk per
    // hour that has rows, at the site's interval.
    const after = await objects();
    expect(after).toEqual(before);
    expect(after.map((o) => o.name)).toEqual([
      'metrics',
      'metrics_device_idx',
      'metrics_pkey',
      'metrics_timestamp_idx',
      'promoted_metrics',
    ]);
    expect(
      await server.query(
        `SELECT time_interval::text AS time_interval, (SELECT count(*)::int FROM timescaledb_information.chunks
          WHERE hypertable_name = 'metrics') AS chunks
           FROM timescaledb_information.dimensions WHERE hypertable_name = 'metrics'`,
      ),
    ).toEqual([{ time_interval: '01:00:00', chunks: 4 }]);
    expect(await server.query("SELECT 1 FROM pg_namespace WHERE nspname = 'api'")).toEqual([]);
  });
});
