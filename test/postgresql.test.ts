import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../exporters/postgresql/config.ts';
import { FileStore } from '../kit/delivery/file-store.ts';
import { encodeExportRequest } from '../kit/otlp/encode.ts';
import { PostgresqlExporter } from '../exporters/postgresql/postgresql.ts';
import { at, batchOf, histogramMetric, numberMetric } from '../exporters/postgresql/testdata/batches.ts';
import { poll } from './support/peers.ts';
import type { RunningPostgres } from './support/postgres.ts';
import { postgresInstalled, startPostgres } from './support/postgres.ts';
import type { Logger } from '../kit/logger.ts';
import { createLogger } from '../kit/logger.ts';
import { createTestSettings } from './support/settings.ts';

// The postgresql exporter against a real PostgreSQL 15: kwollect's schema created on an
// empty database, an existing kwollect schema written into unchanged, every value read back
// exactly, get_metrics and metrics_by_job answering kwollect's queries, a restart of the
// database losing nothing, and the OAR example filling nodetime_per_job.

function skipWithoutPostgres(): boolean {
  if (postgresInstalled()) return false;
  const message = 'PostgreSQL 15 not found: install the Debian package postgresql (npm run test:deps)';
  if (process.env.CI !== undefined) throw new Error(message);
  console.warn(`skipping: ${message}`);
  return true;
}

const ROOT = join(import.meta.dirname, '..');
let server: RunningPostgres;
let databases = 0;

beforeAll(async () => {
  if (skipWithoutPostgres()) return;
  server = await startPostgres({ fsync: 'off', TimeZone: 'UTC' });
}, 120_000);
afterAll(async () => {
  await (server as RunningPostgres | undefined)?.stop();
});

async function freshDatabase(): Promise<string> {
  databases += 1;
  return server.createDatabase(`kw${String(databases)}`);
}

function createExporter(
  database: string,
  extra: Record<string, unknown> = {},
  logger?: Logger,
): PostgresqlExporter & { settings: ReturnType<typeof createTestSettings> } {
  const settings = {
    ...createTestSettings('postgresql', 'exporter'),
    ...(logger === undefined ? {} : { logger }),
  };
  const config = configSchema.parse({
    db_host: server.host,
    db_port: server.port,
    db_name: database,
    db_user: server.user,
    retry_on_failure: { initial_interval: '100ms', max_interval: '500ms', max_elapsed_time: 0 },
    ...extra,
  });
  return Object.assign(new PostgresqlExporter(settings, config), { settings });
}

function exportBatch(exporter: PostgresqlExporter, batch: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    exporter.export(batch, resolve);
  });
}

async function exportAll(exporter: PostgresqlExporter, batches: readonly ResourceMetrics[]): Promise<void> {
  for (const batch of batches)
    expect((await exportBatch(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);
  await exporter.forceFlush();
}

interface Row {
  ts: string;
  device_id: string;
  metric_id: string;
  value: number;
  labels: Record<string, unknown>;
}

const ROW_SQL = `SELECT "timestamp"::text AS ts, device_id, metric_id, value, labels`;

function rows(database: string, from = 'metrics', where = 'true'): Promise<Row[]> {
  return server.query<Row>(
    `SET TIME ZONE 'UTC'; ${ROW_SQL} FROM ${from} WHERE ${where} ORDER BY 1, 2, 3, labels::text`,
    undefined,
    database,
  );
}

// Values chosen to be exact only if nothing rounds them: sub-millisecond times, doubles
// with 17 significant digits, huge and tiny magnitudes, negative zero's neighbour.
const T1 = at('2020-01-06T14:00:00.000Z', 1);
const T2 = at('2020-01-06T14:00:05.123Z', 456);
const kwollectBatch = batchOf([
  numberMetric('pdu_power_watt', [
    { attributes: { device_id: 'node-1', _device_alias: 'rack-1' }, value: 231.12345678901235, time: T1 },
    { attributes: { device_id: 'node-2', _device_alias: 'rack-1' }, value: 100.5, time: T1 },
    { attributes: { device_id: 'node-1', _device_alias: 'rack-1' }, value: 1e-300, time: T2 },
  ]),
  numberMetric(
    'container.cpu.time',
    [
      {
        attributes: {
          'device.id': 'node-1',
          'cgroup.path': '/oar/alice_1234',
          'inframeter.cgroups.job.scheduler': 'oar',
          'inframeter.cgroups.job.id': '1234',
          'inframeter.cgroups.job.user': 'alice',
          'cpu.mode': 'user',
        },
        value: 9_007_199_254_740_991,
        time: T2,
      },
    ],
    true,
  ),
  numberMetric('weird name\twith tab', [
    {
      attributes: { device_id: 'dev\\ice', 'quote"key': 'line\nbreak', unicode: 'éà✓' },
      value: -1.5e300,
      time: T2,
    },
  ]),
  histogramMetric('rpc.duration', { device_id: 'node-2' }, T2, {
    buckets: { boundaries: [0.5], counts: [1, 2] },
    count: 3,
    sum: 2.25,
    min: 0.25,
    max: 1.5,
  }),
  // Left out and counted: no device id, a value that is not finite.
  numberMetric('orphan', [{ attributes: {}, value: 1, time: T2 }]),
  numberMetric('broken', [{ attributes: { device_id: 'node-1' }, value: Number.NaN, time: T2 }]),
]);

const EXPECTED: Row[] = [
  {
    ts: '2020-01-06 14:00:00.000001+00',
    device_id: 'node-1',
    metric_id: 'pdu_power_watt',
    value: 231.12345678901235,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-06 14:00:00.000001+00',
    device_id: 'node-2',
    metric_id: 'pdu_power_watt',
    value: 100.5,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'dev\\ice',
    metric_id: 'weird name\twith tab',
    value: -1.5e300,
    labels: { 'quote"key': 'line\nbreak', unicode: 'éà✓' },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-1',
    metric_id: 'container.cpu.time',
    value: 9_007_199_254_740_991,
    labels: {
      'cgroup.path': '/oar/alice_1234',
      'inframeter.cgroups.job.scheduler': 'oar',
      'inframeter.cgroups.job.id': '1234',
      'inframeter.cgroups.job.user': 'alice',
      'cpu.mode': 'user',
    },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-1',
    metric_id: 'pdu_power_watt',
    value: 1e-300,
    labels: { _device_alias: 'rack-1' },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_bucket',
    value: 1,
    labels: { le: '0.5' },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_bucket',
    value: 3,
    labels: { le: '+Inf' },
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_count',
    value: 3,
    labels: {},
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_max',
    value: 1.5,
    labels: {},
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_min',
    value: 0.25,
    labels: {},
  },
  {
    ts: '2020-01-06 14:00:05.123456+00',
    device_id: 'node-2',
    metric_id: 'rpc.duration_sum',
    value: 2.25,
    labels: {},
  },
];

function sortRows(list: Row[]): Row[] {
  return [...list].sort((a, b) =>
    `${a.ts}|${a.device_id}|${a.metric_id}|${JSON.stringify(a.labels)}`.localeCompare(
      `${b.ts}|${b.device_id}|${b.metric_id}|${JSON.stringify(b.labels)}`,
    ),
  );
}

describe.skipIf(!postgresInstalled() && process.env.CI === undefined)(
  'postgresql exporter on PostgreSQL 15',
  () => {
    describe('an empty database', () => {
      let db = '';
      beforeAll(async () => {
        db = await freshDatabase();
        const exporter = createExporter(db);
        await exporter.start();
        await exportAll(exporter, [kwollectBatch]);
        expect(exporter.settings.telemetry.counts.failed).toBe(2);
        await exporter.shutdown();
      }, 60_000);

      it("gets kwollect's schema: table, indexes, views, nodetime_per_job, promoted_metrics, api functions", async () => {
        const objects = await server.query<{ name: string; kind: string }>(
          `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' ORDER BY 1`,
          undefined,
          db,
        );
        expect(objects).toEqual(
          expect.arrayContaining([
            { name: 'metrics', kind: 'r' },
            { name: 'metrics_pkey', kind: 'i' },
            { name: 'metrics_device_idx', kind: 'i' },
            { name: 'metrics_alias_idx', kind: 'i' },
            { name: 'metrics_by_device', kind: 'v' },
            { name: 'metrics_by_job', kind: 'v' },
            { name: 'nodetime_per_job', kind: 'r' },
            { name: 'promoted_metrics', kind: 'r' },
          ]),
        );
        const columns = await server.query(
          `SELECT table_name, column_name, data_type FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name IN ('metrics', 'nodetime_per_job', 'promoted_metrics')
          ORDER BY table_name, ordinal_position`,
          undefined,
          db,
        );
        expect(columns.map((c) => Object.values(c).join(' '))).toEqual([
          'metrics timestamp timestamp with time zone',
          'metrics device_id text',
          'metrics metric_id text',
          'metrics value double precision',
          'metrics labels jsonb',
          'nodetime_per_job job_id integer',
          'nodetime_per_job start_time timestamp with time zone',
          'nodetime_per_job stop_time timestamp with time zone',
          'nodetime_per_job node text',
          'promoted_metrics device_id text',
          'promoted_metrics metric_id text',
        ]);
        const functions = await server.query<{ f: string }>(
          `SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'api' ORDER BY 1`,
          undefined,
          db,
        );
        expect(functions.map((f) => f.f)).toEqual([
          'api.get_metrics(integer,text,text,text,text,text)',
          'api.insert_metrics(text,text,timestamp with time zone,double precision,jsonb)',
        ]);
      });

      it('holds every value exactly; points it cannot store are counted, the rest stored', async () => {
        expect(sortRows(await rows(db))).toEqual(sortRows(EXPECTED));
      });

      it('metrics_by_device answers the document query, aliases summed', async () => {
        const alias = (await rows(db, 'metrics_by_device', "device_id = 'rack-1'")).map((r) => ({
          ...r,
          // array_agg's order is not defined.
          labels: { _device_orig: [...(r.labels._device_orig as string[])].sort() },
        }));
        expect(alias).toEqual([
          {
            ts: '2020-01-06 14:00:00.000001+00',
            device_id: 'rack-1',
            metric_id: 'pdu_power_watt',
            value: 231.12345678901235 + 100.5,
            labels: { _device_orig: ['node-1', 'node-2'] },
          },
          {
            ts: '2020-01-06 14:00:05.123456+00',
            device_id: 'rack-1',
            metric_id: 'pdu_power_watt',
            value: 1e-300,
            labels: { _device_orig: ['node-1'] },
          },
        ]);
        const own = await rows(
          db,
          'metrics_by_device',
          "device_id = 'node-1' AND metric_id = 'pdu_power_watt'",
        );
        expect(own.map((r) => [r.value, r.labels])).toEqual([
          [231.12345678901235, {}],
          [1e-300, {}],
        ]);
      });

      it('get_metrics answers the API queries of the document', async () => {
        const call = (args: string): Promise<Row[]> =>
          server.query<Row>(`SET TIME ZONE 'UTC'; ${ROW_SQL} FROM api.get_metrics(${args})`, undefined, db);
        // ?devices=node-1,node-2&start_time=2020-01-06T13:35:00&end_time=2020-01-06T14:35:00
        const window = await call(
          "devices => 'node-1,node-2', start_time => '2020-01-06T13:35:00', end_time => '2020-01-06T14:35:00'",
        );
        expect(window.map((r) => r.ts)).toEqual([...window.map((r) => r.ts)].sort());
        expect(window).toHaveLength(10);
        expect(new Set(window.map((r) => r.device_id))).toEqual(new Set(['node-1', 'node-2']));
        // FQDNs are cut to the node name; metrics filter; Unix seconds as times; nodes as devices.
        const fqdn = await call(
          `nodes => 'node-1.lyon.grid5000.fr', metrics => 'pdu_power_watt', start_time => '${String(Date.parse('2020-01-06T14:00:00Z') / 1000)}', end_time => '2020-01-06T14:00:10Z'`,
        );
        expect(fqdn.map((r) => r.value)).toEqual([231.12345678901235, 1e-300]);
        // Times as kwollect's API users send them (its own API tests): ISO without a zone, to
        // the millisecond or finer, only a start or only an end (the window is then the 5
        // minutes before it); with an offset; Unix seconds; a timestamptz given as text.
        const node1 = (times: string): Promise<number[]> =>
          call(`devices => 'node-1', metrics => 'pdu_power_watt', ${times}`).then((r) =>
            r.map((x) => x.value),
          );
        expect(
          await node1("start_time => '2020-01-06T14:00:05.123', end_time => '2020-01-06T14:10:00'"),
        ).toEqual([1e-300]);
        expect(
          await node1("start_time => '2020-01-06T14:00:05.1235', end_time => '2020-01-06T14:10:00'"),
        ).toEqual([]);
        expect(await node1("end_time => '2020-01-06T14:00:00.0001'")).toEqual([231.12345678901235]);
        expect(await node1("end_time => '2020-01-06T14:00:00.000001'")).toEqual([231.12345678901235]);
        expect(await node1("end_time => '2020-01-06T14:00:00'")).toEqual([]);
        expect(
          await node1("start_time => '2020-01-06 15:00:05.123456+01', end_time => '1578319500'"),
        ).toEqual([1e-300]);
        expect(
          await node1(
            "start_time => (timestamptz '2020-01-06 14:00:00.000001+00')::text, end_time => (timestamptz '2020-01-06 14:00:05.123455+00')::text",
          ),
        ).toEqual([231.12345678901235]);
        // A naive time is read in the session's time zone, as PostgreSQL reads any.
        expect(
          await server.query<Row>(
            `SET TIME ZONE 'Europe/Paris'; ${ROW_SQL} FROM api.get_metrics(devices => 'node-1', metrics => 'pdu_power_watt', start_time => '2020-01-06T15:00:05', end_time => '2020-01-06T15:01:00')`,
            undefined,
            db,
          ),
        ).toHaveLength(1);
        // The default window is the last 5 minutes: nothing from 2020.
        expect(await call("devices => 'node-1'")).toEqual([]);
        await expect(call("metrics => 'pdu_power_watt'")).rejects.toThrow(
          /Missing 'devices', 'nodes' or 'job_id'/,
        );
        // insert_metrics as the document's curl example does, then read back through the default window.
        await server.query(
          "SELECT * FROM api.insert_metrics(device_id => 'node-9', metric_id => 'example_metric', value => 42)",
          undefined,
          db,
        );
        expect((await call("devices => 'node-9'")).map((r) => [r.metric_id, r.value])).toEqual([
          ['example_metric', 42],
        ]);
      });

      it('metrics_by_job and get_metrics(job_id) answer for a job from nodetime_per_job', async () => {
        await server.query(
          `INSERT INTO nodetime_per_job (job_id, start_time, stop_time, node) VALUES
           (1234, '2020-01-06 13:59:00+00', '2020-01-06 14:00:03+00', 'node-1'),
           (1234, '2020-01-06 13:59:00+00', '2020-01-06 14:00:03+00', 'node-2'),
           (1235, '2020-01-06 14:00:01+00', NULL, 'node-2'),
           (1236, '2020-01-06 13:00:00+00', NULL, 'rack-1')`,
          undefined,
          db,
        );
        const job = await rows(db, 'metrics_by_job', 'job_id = 1234');
        expect(job.map((r) => [r.device_id, r.metric_id, r.value])).toEqual([
          ['node-1', 'pdu_power_watt', 231.12345678901235],
          ['node-2', 'pdu_power_watt', 100.5],
        ]);
        // A running job (stop_time NULL) gets everything since its start.
        const running = await rows(db, 'metrics_by_job', 'job_id = 1235');
        expect(running.map((r) => r.metric_id)).toEqual([
          'rpc.duration_bucket',
          'rpc.duration_bucket',
          'rpc.duration_count',
          'rpc.duration_max',
          'rpc.duration_min',
          'rpc.duration_sum',
        ]);
        // A job on an alias sees the alias's summed rows.
        const alias = await rows(db, 'metrics_by_job', 'job_id = 1236');
        expect(alias.map((r) => [r.device_id, r.value])).toEqual([
          ['rack-1', 231.12345678901235 + 100.5],
          ['rack-1', 1e-300],
        ]);
        const api = await server.query<Row>(
          `SET TIME ZONE 'UTC'; ${ROW_SQL} FROM api.get_metrics(job_id => 1235, metrics => 'rpc.duration_sum,rpc.duration_count')`,
          undefined,
          db,
        );
        expect(api.map((r) => [r.metric_id, r.value])).toEqual([
          ['rpc.duration_count', 3],
          ['rpc.duration_sum', 2.25],
        ]);
        const narrowed = await server.query<Row>(
          `${ROW_SQL} FROM api.get_metrics(job_id => 1234, devices => 'node-2.lyon.grid5000.fr')`,
          undefined,
          db,
        );
        expect(narrowed.map((r) => [r.device_id, r.value])).toEqual([['node-2', 100.5]]);
      });
    });

    it('writes a batch delivered twice once (at-least-once delivery meets the primary key)', async () => {
      const db = await freshDatabase();
      const exporter = createExporter(db);
      await exporter.start();
      await exportAll(exporter, [kwollectBatch, kwollectBatch]);
      await exporter.shutdown();
      expect(sortRows(await rows(db))).toEqual(sortRows(EXPECTED));
      expect(exporter.settings.telemetry.counts.failed).toBe(4);
    }, 60_000);

    it('writes into an existing kwollect schema and creates nothing; refused rows are isolated', async () => {
      const db = await freshDatabase();
      // As kwollect-setup-db leaves a site's database (without TimescaleDB and PL/Python here),
      // plus a check constraint the site added.
      await server.query(
        `CREATE TABLE metrics (
         timestamp   TIMESTAMPTZ       DEFAULT NOW(),
         device_id   TEXT              NOT NULL,
         metric_id   TEXT              NOT NULL,
         value       DOUBLE PRECISION  DEFAULT 'NaN',
         labels      JSONB             DEFAULT '{}'::JSONB,
         PRIMARY KEY(timestamp, device_id, metric_id, labels),
         CONSTRAINT site_value_bound CHECK (value > -1e299)
       );
       CREATE INDEX metrics_device_idx ON metrics(device_id, timestamp DESC);
       CREATE TABLE promoted_metrics (device_id TEXT NOT NULL, metric_id TEXT DEFAULT NULL);
       CREATE VIEW nodetime_by_job AS
         SELECT * FROM (SELECT 0 AS job_id, now() AS start_time, now() AS stop_time, '' AS node) empty WHERE false;`,
        undefined,
        db,
      );
      const before = await server.query<{ name: string }>(
        `SELECT relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
        undefined,
        db,
      );
      const exporter = createExporter(db);
      await exporter.start();
      await exportAll(exporter, [kwollectBatch]);
      await exporter.shutdown();
      const after = await server.query<{ name: string }>(
        `SELECT relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
        undefined,
        db,
      );
      expect(after).toEqual(before);
      expect(await server.query("SELECT 1 FROM pg_namespace WHERE nspname = 'api'", undefined, db)).toEqual(
        [],
      );
      // The -1.5e300 row breaks the site's constraint: it alone is refused and counted.
      expect(sortRows(await rows(db))).toEqual(sortRows(EXPECTED.filter((r) => r.value !== -1.5e300)));
      expect(exporter.settings.telemetry.counts.failed).toBe(3);
    }, 60_000);

    it('a metrics table without a needed column: batches fail without retries, counted', async () => {
      const db = await freshDatabase();
      await server.query(
        'CREATE TABLE metrics (timestamp timestamptz, device_id text, metric_id text, value double precision)',
        undefined,
        db,
      );
      const exporter = createExporter(db);
      await exporter.start();
      await exportAll(exporter, [
        batchOf([numberMetric('m', [{ attributes: { device_id: 'n' }, value: 1, time: T1 }])]),
      ]);
      expect(exporter.status().queuedPoints).toBe(0);
      expect(exporter.settings.telemetry.counts.failed).toBe(1);
      await exporter.shutdown();
      expect(await server.query('SELECT * FROM metrics', undefined, db)).toEqual([]);
    }, 60_000);

    it('two exporters starting at once on an empty database create the schema once', async () => {
      const db = await freshDatabase();
      const exporters = [createExporter(db), createExporter(db), createExporter(db)];
      await Promise.all(exporters.map((e) => e.start()));
      await Promise.all(
        exporters.map((e, i) =>
          exportAll(e, [
            batchOf([
              numberMetric('m', [{ attributes: { device_id: `n${String(i)}` }, value: i, time: T1 }]),
            ]),
          ]),
        ),
      );
      await Promise.all(exporters.map((e) => e.shutdown()));
      expect(exporters.map((e) => e.settings.telemetry.counts.failed)).toEqual([0, 0, 0]);
      const stored = await server.query<{ device_id: string; value: number }>(
        'SELECT device_id, value FROM metrics ORDER BY 1',
        undefined,
        db,
      );
      expect(stored).toEqual([
        { device_id: 'n0', value: 0 },
        { device_id: 'n1', value: 1 },
        { device_id: 'n2', value: 2 },
      ]);
    }, 60_000);

    it('loses nothing while the database restarts (persistent queue, retries)', async () => {
      const db = await freshDatabase();
      const queueDir = mkdtempSync(join(tmpdir(), 'inframeter-pg-queue-'));
      const exporter = createExporter(db, { sending_queue: { storage: 'file', directory: queueDir } });
      try {
        await exporter.start();
        const batch = (i: number): ResourceMetrics =>
          batchOf([
            numberMetric(
              'power',
              Array.from({ length: 100 }, (_, j) => ({
                attributes: { device_id: `node-${String(j)}` },
                value: i * 1000 + j + 0.25,
                time: at('2020-01-06T14:00:00Z', i * 1000),
              })),
            ),
          ]);
        await exportAll(exporter, [batch(0), batch(1)]);
        await server.halt();
        // Exporting on while the database is down: batches are queued on disk, sends retried.
        for (let i = 2; i < 12; i += 1)
          expect((await exportBatch(exporter, batch(i))).code).toBe(ExportResultCode.SUCCESS);
        expect(exporter.status().queuedPoints).toBeGreaterThan(0);
        await server.resume();
        for (let i = 12; i < 15; i += 1)
          expect((await exportBatch(exporter, batch(i))).code).toBe(ExportResultCode.SUCCESS);
        await poll('every batch stored after the restart', 60_000, async () => {
          const [count] = await server.query<{ n: string }>(
            'SELECT count(*) AS n FROM metrics',
            undefined,
            db,
          );
          return count?.n === '1500' && exporter.status().queuedPoints === 0 ? true : undefined;
        });
        const sums = await server.query<{ n: string; s: number }>(
          'SELECT count(DISTINCT value) AS n, sum(value) AS s FROM metrics',
          undefined,
          db,
        );
        let expected = 0;
        for (let i = 0; i < 15; i += 1) for (let j = 0; j < 100; j += 1) expected += i * 1000 + j + 0.25;
        expect(sums).toEqual([{ n: '1500', s: expected }]);
        expect(exporter.settings.telemetry.counts.failed).toBe(0);
      } finally {
        await exporter.shutdown();
        await server.resume();
        rmSync(queueDir, { recursive: true, force: true });
      }
    }, 120_000);

    it('a memory queue holds batches while the database is down and writes each exactly once when it returns', async () => {
      const db = await freshDatabase();
      // The memory queue (the default): each batch is converted when exported and held in a
      // compact form (held-rows.ts) whose COPY text is made at each send.
      const failedSends: string[] = [];
      let binary = false;
      const logger = createLogger('debug', {
        write: (line: string) => {
          // A send that found the database down (logged once, then at debug).
          if (line.includes('ECONNREFUSED')) failedSends.push(line);
          // The schema it created takes COPY's binary form.
          if (line.includes('"copy":"binary"')) binary = true;
        },
      });
      const exporter = createExporter(db, {}, logger);
      const time = (i: number): [number, number] => at('2020-01-06T14:00:00Z', i * 1000);
      // Rows of every path: common rows with a device of their own, with the resource's device,
      // with labels to escape; a histogram (held as lines); a point left out.
      const batch = (i: number): ResourceMetrics =>
        batchOf(
          [
            numberMetric('power', [
              ...Array.from({ length: 100 }, (_, j) => ({
                attributes: { device_id: `node-${String(j)}`, rack: `r${String(j % 3)}` },
                value: i * 1000 + j + 0.5,
                time: time(i),
              })),
              {
                attributes: { device_id: 'dev\\ice\t2', note: 'a"b\nc', unicode: 'éà✓' },
                value: -1.5e300,
                time: time(i),
              },
              { attributes: { outlet: String(i) }, value: 231.12345678901235 + i, time: time(i) },
              // The store cannot hold it: counted once, at export, however many sends.
              { attributes: { device_id: 'node-x' }, value: Number.NaN, time: time(i) },
            ]),
            histogramMetric('rpc.duration', { device_id: 'node-0' }, time(i), {
              buckets: { boundaries: [0.5], counts: [1, i] },
              count: 1 + i,
              sum: 2.25 * i,
            }),
          ],
          { 'host.name': 'gw-1' },
        );
      const expected = (i: number): Omit<Row, 'ts'>[] => [
        ...Array.from({ length: 100 }, (_, j) => ({
          device_id: `node-${String(j)}`,
          metric_id: 'power',
          value: i * 1000 + j + 0.5,
          labels: { rack: `r${String(j % 3)}` },
        })),
        {
          device_id: 'dev\\ice\t2',
          metric_id: 'power',
          value: -1.5e300,
          labels: { note: 'a"b\nc', unicode: 'éà✓' },
        },
        {
          device_id: 'gw-1',
          metric_id: 'power',
          value: 231.12345678901235 + i,
          labels: { outlet: String(i) },
        },
        { device_id: 'node-0', metric_id: 'rpc.duration_bucket', value: 1, labels: { le: '0.5' } },
        { device_id: 'node-0', metric_id: 'rpc.duration_bucket', value: 1 + i, labels: { le: '+Inf' } },
        { device_id: 'node-0', metric_id: 'rpc.duration_count', value: 1 + i, labels: {} },
        { device_id: 'node-0', metric_id: 'rpc.duration_sum', value: 2.25 * i, labels: {} },
      ];
      const rowsPerBatch = expected(0).length;
      try {
        await exporter.start();
        await exportAll(exporter, [batch(0)]);
        await server.halt();
        for (let i = 1; i < 8; i += 1)
          expect((await exportBatch(exporter, batch(i))).code).toBe(ExportResultCode.SUCCESS);
        // Sent (their text made) more than once each: the first send and the probes fail.
        await poll('two sends failed, the batches wait in memory', 60_000, () =>
          Promise.resolve(failedSends.length >= 2 ? true : undefined),
        );
        // The point left out is not queued. The held form: 16 bytes a row for the 103 points
        // (arrays sized by points), 64 for its one time, the histogram's 4 rows as their text
        // (about 70 bytes each).
        expect(exporter.status().queuedPoints).toBe(7 * 103);
        const { queuedBytes } = exporter.status();
        expect(queuedBytes).toBeGreaterThan(7 * (103 * 16 + 64 + 4 * 50));
        expect(queuedBytes).toBeLessThan(7 * (103 * 16 + 64 + 4 * 120));
        await server.resume();
        await poll('every batch stored after the database came back', 60_000, async () => {
          const [count] = await server.query<{ n: string }>(
            'SELECT count(*) AS n FROM metrics',
            undefined,
            db,
          );
          return count?.n === String(8 * rowsPerBatch) && exporter.status().queuedPoints === 0
            ? true
            : undefined;
        });
        const stored = await rows(db);
        const key = (r: Omit<Row, 'ts'>): string =>
          JSON.stringify([r.device_id, r.metric_id, r.value, r.labels]);
        const want: string[] = [];
        for (let i = 0; i < 8; i += 1) {
          const ts = `2020-01-06 14:00:00${i === 0 ? '' : `.00${String(i)}`}+00`;
          for (const row of expected(i)) want.push(`${ts} ${key(row)}`);
        }
        expect(stored.map(({ ts, ...row }) => `${ts} ${key(row)}`).sort()).toEqual(want.sort());
        expect(exporter.settings.telemetry.counts.failed).toBe(8);
        expect(exporter.status().sentPoints).toBe(8 * 103);
        expect(binary).toBe(true);
      } finally {
        await exporter.shutdown();
        await server.resume();
      }
    }, 120_000);

    it('replays a queue left on disk after a restart: COPY text it queued, and OTLP an earlier version queued', async () => {
      const db = await freshDatabase();
      const queueDir = mkdtempSync(join(tmpdir(), 'inframeter-pg-replay-'));
      const batch = (i: number): ResourceMetrics =>
        batchOf([
          numberMetric(
            'power',
            Array.from({ length: 50 }, (_, j) => ({
              attributes: { device_id: `node-${String(j)}`, 'outlet name': `é\t${String(j)}` },
              value: i * 1000 + j + 0.125,
              time: at('2020-01-06T14:00:00Z', i * 1000),
            })),
          ),
        ]);
      try {
        // Creates the schema, then the database goes away.
        const setup = createExporter(db);
        await setup.start();
        await exportAll(setup, [batch(0)]);
        await setup.shutdown();
        await server.halt();
        const first = createExporter(db, { sending_queue: { storage: 'file', directory: queueDir } });
        await first.start();
        for (let i = 1; i < 4; i += 1)
          expect((await exportBatch(first, batch(i))).code).toBe(ExportResultCode.SUCCESS);
        await first.shutdown();
        // A record as an earlier version queued it: the batch in OTLP protobuf.
        const store = new FileStore(queueDir);
        const { lastSeq } = await store.open();
        await store.append(lastSeq + 1, 50, encodeExportRequest([batch(4)]));
        await store.close();
        await server.resume();
        const second = createExporter(db, { sending_queue: { storage: 'file', directory: queueDir } });
        try {
          await second.start();
          await poll('the queue replayed', 60_000, async () => {
            const [count] = await server.query<{ n: string }>(
              'SELECT count(*) AS n FROM metrics',
              undefined,
              db,
            );
            return count?.n === '250' && second.status().queuedPoints === 0 ? true : undefined;
          });
          const stored = await rows(db, 'metrics', "device_id = 'node-7'");
          expect(stored.map((r) => [r.ts, r.value, r.labels])).toEqual(
            [0, 1, 2, 3, 4].map((i) => [
              i === 0 ? '2020-01-06 14:00:00+00' : `2020-01-06 14:00:00.00${String(i)}+00`,
              i * 1000 + 7.125,
              { 'outlet name': 'é\t7' },
            ]),
          );
          expect(second.settings.telemetry.counts.failed).toBe(0);
        } finally {
          await second.shutdown();
        }
      } finally {
        await server.resume();
        rmSync(queueDir, { recursive: true, force: true });
      }
    }, 120_000);

    it('a database that stops answering (processes frozen) costs a timeout and a retry, nothing else', async () => {
      const db = await freshDatabase();
      const messages: string[] = [];
      const logger = createLogger('debug', {
        write: (line: string) => {
          messages.push((JSON.parse(line) as { msg: string }).msg);
        },
      });
      const exporter = createExporter(db, { timeout: '1s' }, logger);
      const point = (i: number): ResourceMetrics =>
        batchOf([
          numberMetric('m', [
            { attributes: { device_id: 'n' }, value: i, time: at('2020-01-06T14:00:00Z', i) },
          ]),
        ]);
      const pids = (): number[] => {
        const postmaster = Number(
          readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
        );
        const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], {
          encoding: 'utf8',
        });
        return [
          postmaster,
          ...children
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map(Number),
        ];
      };
      let frozen: number[] = [];
      const logFrom = server.log().length;
      try {
        await exporter.start();
        await exportAll(exporter, [point(1)]);
        // The pooled connection's backend and the postmaster stop answering, connections stay open.
        frozen = pids();
        for (const pid of frozen) process.kill(pid, 'SIGSTOP');
        expect((await exportBatch(exporter, point(2))).code).toBe(ExportResultCode.SUCCESS);
        await poll('the silent connection cut after timeout + 5 s, the batch kept for a retry', 60_000, () =>
          Promise.resolve(
            messages.some((m) => m.includes('no answer from the database within 6000 ms')) ? true : undefined,
          ),
        );
        expect(exporter.status().queuedPoints).toBe(1);
      } finally {
        for (const pid of frozen) process.kill(pid, 'SIGCONT');
      }
      await poll('the frozen batch stored once the database answers again', 60_000, async () => {
        const stored = await server.query<{ value: number }>(
          'SELECT value FROM metrics ORDER BY 1',
          undefined,
          db,
        );
        return stored.length === 2 ? stored : undefined;
      });
      await exporter.shutdown();
      expect(exporter.settings.telemetry.counts.failed).toBe(0);
      // The silent connection was cut by the exporter, mid-COPY (the server says so once thawed).
      expect(server.log().slice(logFrom)).toContain('unexpected EOF on client connection');
    }, 120_000);

    describe("COPY in binary form on kwollect's types, in text on others", () => {
      // Every row kind through both forms: gauges and sums (the common path, a device of the
      // point's own), the resource's device and resource labels (the other path), histograms
      // flattened; labels to escape in text; times at the microsecond before 2000 (a negative
      // int64 in the binary form), in years 1 and 9999; negative zero, the smallest and
      // largest doubles, 17 significant digits, integers beyond 2^53.
      const odd = {
        device_id: 'dev\\ice "q"\t1',
        'back\\slash': 'a\\b',
        quote: 'say "hi"',
        nl: 'x\ny',
        unicode: 'éà✓ 😀',
      };
      const times = [
        at('0001-01-01T00:00:00.000Z', 1),
        at('1969-12-31T23:59:59.999Z', 999),
        at('1999-12-31T23:59:59.999Z', 999),
        at('2000-01-01T00:00:00.000Z', 1),
        at('2026-12-07T22:00:00.123Z', 456),
        at('9999-12-31T23:59:59.999Z', 999),
      ];
      const texts = [
        '0001-01-01 00:00:00.000001+00',
        '1969-12-31 23:59:59.999999+00',
        '1999-12-31 23:59:59.999999+00',
        '2000-01-01 00:00:00.000001+00',
        '2026-12-07 22:00:00.123456+00',
        '9999-12-31 23:59:59.999999+00',
      ];
      const values = [-0, 5e-324, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, 2 ** 53 + 2, 1e21, 42.5, -3];
      const formsBatches = [
        batchOf([
          numberMetric(
            'gauge',
            times.flatMap((time, t) =>
              values.map((value, v) => ({
                attributes: { device_id: `n${String(v)}`, t: String(t) },
                value,
                time,
              })),
            ),
          ),
          numberMetric('sum', [{ attributes: { device_id: 'n0' }, value: -0, time: times[4] ?? T1 }], true),
          numberMetric('odd "metric"\\name\t✓', [{ attributes: odd, value: 0.1, time: times[1] ?? T1 }]),
          histogramMetric('rpc.duration', { device_id: 'n1', route: '/a"b' }, times[2] ?? T1, {
            buckets: { boundaries: [0.25, 1e-300], counts: [1, 2, 3] },
            count: 6,
            sum: -0,
            min: 5e-324,
            max: 2.5,
          }),
        ]),
        // The resource's device and labels: the other path of every row.
        batchOf(
          [
            numberMetric('gauge', [
              { attributes: {}, value: -0, time: times[0] ?? T1 },
              { attributes: { q: 'a"\\b' }, value: 1e-300, time: times[5] ?? T1 },
            ]),
          ],
          { 'host.name': 'gw\\1', site: 'lyon ✓' },
        ),
      ];
      const expected: Row[] = [
        ...times.flatMap((_, t) =>
          values.map((value, v) => ({
            ts: texts[t] ?? '',
            device_id: `n${String(v)}`,
            metric_id: 'gauge',
            value,
            labels: { t: String(t) },
          })),
        ),
        { ts: texts[4] ?? '', device_id: 'n0', metric_id: 'sum', value: -0, labels: {} },
        {
          ts: texts[1] ?? '',
          device_id: odd.device_id,
          metric_id: 'odd "metric"\\name\t✓',
          value: 0.1,
          labels: { 'back\\slash': 'a\\b', quote: 'say "hi"', nl: 'x\ny', unicode: 'éà✓ 😀' },
        },
        ...[
          ['rpc.duration_bucket', 1, { le: '0.25' }],
          ['rpc.duration_bucket', 3, { le: '1e-300' }],
          ['rpc.duration_bucket', 6, { le: '+Inf' }],
          ['rpc.duration_count', 6, {}],
          ['rpc.duration_sum', -0, {}],
          ['rpc.duration_min', 5e-324, {}],
          ['rpc.duration_max', 2.5, {}],
        ].map(([metric, value, labels]) => ({
          ts: texts[2] ?? '',
          device_id: 'n1',
          metric_id: metric as string,
          value: value as number,
          labels: { route: '/a"b', ...(labels as object) },
        })),
        { ts: texts[0] ?? '', device_id: 'gw\\1', metric_id: 'gauge', value: -0, labels: { site: 'lyon ✓' } },
        {
          ts: texts[5] ?? '',
          device_id: 'gw\\1',
          metric_id: 'gauge',
          value: 1e-300,
          labels: { q: 'a"\\b', site: 'lyon ✓' },
        },
      ];

      /** Exports the batches with `queue`; returns the form the exporter logged and the rows read back. */
      async function writeForms(
        db: string,
        queue: Record<string, unknown>,
        extra: Record<string, unknown> = {},
      ): Promise<{ copy: string; stored: Row[] }> {
        let copy = '';
        const logger = createLogger('info', {
          write: (line: string) => {
            const entry = JSON.parse(line) as { copy?: string; reason?: string };
            if (entry.copy !== undefined) copy = `${entry.copy}: ${entry.reason ?? ''}`;
          },
        });
        const exporter = createExporter(
          db,
          {
            resource_labels: ['site'],
            device_id_attributes: ['device_id', 'host.name'],
            sending_queue: queue,
            ...extra,
          },
          logger,
        );
        try {
          await exporter.start();
          await poll('the exporter read the metrics columns', 60_000, () =>
            Promise.resolve(copy !== '' || undefined),
          );
          await exportAll(exporter, formsBatches);
          expect(exporter.settings.telemetry.counts.failed).toBe(0);
        } finally {
          await exporter.shutdown();
        }
        return { copy, stored: await rows(db) };
      }

      /** Rows equal, negative zeros included (`toEqual` alone is not asked to tell them apart). */
      function expectExact(stored: Row[], want: Row[]): void {
        expect(sortRows(stored)).toEqual(sortRows(want));
        const signs = (list: Row[]): string[] => sortRows(list).map((r) => String(Object.is(r.value, -0)));
        expect(signs(stored)).toEqual(signs(want));
      }

      for (const [name, queue] of [
        ['the memory queue', {}],
        ['no queue', { enabled: false }],
      ] as const) {
        it(`binary on the schema it creates (${name}): every row read back exactly`, async () => {
          const db = await freshDatabase();
          const { copy, stored } = await writeForms(db, queue);
          expect(copy).toBe("binary: the metrics columns have kwollect's types");
          expectExact(stored, expected);
        }, 60_000);
      }

      it("text when copy_format is text, on kwollect's types: every row read back exactly", async () => {
        const db = await freshDatabase();
        const { copy, stored } = await writeForms(db, {}, { copy_format: 'text' });
        expect(copy).toBe('text: copy_format is text');
        expectExact(stored, expected);
      }, 60_000);

      it('text on a table whose labels are json: every row read back exactly', async () => {
        const db = await freshDatabase();
        await server.query(
          `CREATE TABLE metrics ("timestamp" timestamptz NOT NULL, device_id text NOT NULL, metric_id text NOT NULL,
             value double precision, labels json NOT NULL)`,
          undefined,
          db,
        );
        const { copy, stored } = await writeForms(db, {});
        expect(copy).toBe('text: labels is json, not jsonb');
        expectExact(stored, expected);
      }, 60_000);

      it('text on a table whose values are real: converted by the server', async () => {
        const db = await freshDatabase();
        await server.query(
          `CREATE TABLE metrics ("timestamp" timestamp, device_id varchar(40), metric_id text, value real, labels jsonb,
             PRIMARY KEY ("timestamp", device_id, metric_id, labels))`,
          undefined,
          db,
        );
        let copy = '';
        const logger = createLogger('info', {
          write: (line: string) => {
            const entry = JSON.parse(line) as { copy?: string; reason?: string };
            if (entry.copy !== undefined) copy = `${entry.copy}: ${entry.reason ?? ''}`;
          },
        });
        const exporter = createExporter(db, {}, logger);
        try {
          await exporter.start();
          await exportAll(exporter, [
            batchOf([
              numberMetric('power', [
                { attributes: { device_id: 'node-1', rack: 'r"1' }, value: 0.5, time: T1 },
                { attributes: { device_id: 'node-2' }, value: -100.25, time: T2 },
              ]),
            ]),
          ]);
          // Twice: the second goes through the staging table (ON CONFLICT), in text as well.
          await exportAll(exporter, [
            batchOf([
              numberMetric('power', [{ attributes: { device_id: 'node-2' }, value: -100.25, time: T2 }]),
            ]),
          ]);
          expect(exporter.settings.telemetry.counts.failed).toBe(0);
        } finally {
          await exporter.shutdown();
        }
        expect(copy).toBe(
          'text: timestamp is timestamp without time zone, not timestamp with time zone; device_id is character varying(40), not text; value is real, not double precision',
        );
        expect(await rows(db)).toEqual([
          {
            ts: '2020-01-06 14:00:00.000001',
            device_id: 'node-1',
            metric_id: 'power',
            value: 0.5,
            labels: { rack: 'r"1' },
          },
          {
            ts: '2020-01-06 14:00:05.123456',
            device_id: 'node-2',
            metric_id: 'power',
            value: -100.25,
            labels: {},
          },
        ]);
      }, 60_000);

      it('binary: a batch written twice goes through the staging table, rows already stored skipped', async () => {
        const db = await freshDatabase();
        await writeForms(db, {});
        const { copy, stored } = await writeForms(db, {});
        expect(copy).toMatch(/^binary/);
        expectExact(stored, expected);
      }, 60_000);
    });

    it('the OAR example fills nodetime_per_job from OAR tables', async () => {
      const db = await freshDatabase();
      const exporter = createExporter(db);
      await exporter.start();
      await exportAll(exporter, [
        batchOf([numberMetric('m', [{ attributes: { device_id: 'n' }, value: 1, time: T1 }])]),
      ]);
      await exporter.shutdown();
      // OAR's own tables (the columns the example reads, as OAR 2.5's pg_structure.sql has them)
      // in a database of their own, reached through postgres_fdw as the example's header says.
      const oar = await freshDatabase();
      await server.query(
        `CREATE TABLE jobs (job_id bigserial PRIMARY KEY, state varchar(16) NOT NULL DEFAULT 'Waiting',
         start_time integer NOT NULL DEFAULT 0, stop_time integer NOT NULL DEFAULT 0,
         assigned_moldable_job integer DEFAULT 0);
       CREATE TABLE moldable_job_descriptions (moldable_id bigserial PRIMARY KEY,
         moldable_job_id integer NOT NULL DEFAULT 0);
       CREATE TABLE assigned_resources (moldable_job_id integer NOT NULL DEFAULT 0,
         resource_id integer NOT NULL DEFAULT 0, PRIMARY KEY (moldable_job_id, resource_id));
       CREATE TABLE resources (resource_id bigserial PRIMARY KEY, type varchar(100) NOT NULL DEFAULT 'default',
         network_address varchar(100) NOT NULL DEFAULT '');
       INSERT INTO resources (resource_id, network_address) VALUES
         (1, 'node-1.lyon.grid5000.fr'), (2, 'node-1.lyon.grid5000.fr'), (3, 'node-2.lyon.grid5000.fr'),
         (4, 'node-3.lyon.grid5000.fr'), (5, '');
       INSERT INTO jobs (job_id, state, start_time, stop_time, assigned_moldable_job) VALUES
         (1234, 'Terminated', 1578319140, 1578319203, 11),
         (1235, 'Running', 1578319201, 0, 12),
         (1236, 'Waiting', 0, 0, 0);
       INSERT INTO moldable_job_descriptions (moldable_id, moldable_job_id) VALUES (11, 1234), (12, 1235), (13, 1236), (14, 1234);
       INSERT INTO assigned_resources (moldable_job_id, resource_id) VALUES (11, 1), (11, 2), (11, 3), (11, 5), (12, 4), (14, 4);`,
        undefined,
        oar,
      );
      await server.query(
        `CREATE EXTENSION IF NOT EXISTS postgres_fdw;
       CREATE SERVER oar_db FOREIGN DATA WRAPPER postgres_fdw
         OPTIONS (host '${server.host}', port '${String(server.port)}', dbname '${oar}');
       CREATE USER MAPPING FOR ${server.user} SERVER oar_db OPTIONS (user '${server.user}');
       CREATE SCHEMA IF NOT EXISTS oar;
       IMPORT FOREIGN SCHEMA public LIMIT TO (jobs, moldable_job_descriptions, assigned_resources, resources)
         FROM SERVER oar_db INTO oar;`,
        undefined,
        db,
      );
      const example = readFileSync(join(ROOT, 'examples', 'kwollect', 'oar-nodetime.sql'), 'utf8');
      await server.query(example, undefined, db);
      await server.query('SELECT refresh_nodetime_per_job()', undefined, db);
      // Run twice: a refresh updates in place (a job that ended gets its stop_time).
      await server.query(
        'UPDATE jobs SET stop_time = 1578319300, state = $1 WHERE job_id = 1235',
        ['Terminated'],
        oar,
      );
      await server.query('SELECT refresh_nodetime_per_job()', undefined, db);
      const filled = await server.query(
        `SET TIME ZONE 'UTC'; SELECT job_id, start_time::text AS start_time, stop_time::text AS stop_time, node
         FROM nodetime_per_job ORDER BY job_id, node`,
        undefined,
        db,
      );
      expect(filled).toEqual([
        {
          job_id: 1234,
          start_time: '2020-01-06 13:59:00+00',
          stop_time: '2020-01-06 14:00:03+00',
          node: 'node-1',
        },
        {
          job_id: 1234,
          start_time: '2020-01-06 13:59:00+00',
          stop_time: '2020-01-06 14:00:03+00',
          node: 'node-2',
        },
        {
          job_id: 1235,
          start_time: '2020-01-06 14:00:01+00',
          stop_time: '2020-01-06 14:01:40+00',
          node: 'node-3',
        },
      ]);
    }, 60_000);
  },
);
