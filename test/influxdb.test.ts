import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../exporters/influxdb/config.ts';
import { InfluxdbExporter } from '../exporters/influxdb/influxdb.ts';
import { batchOf, numberMetric } from '../exporters/influxdb/testdata/fixtures/batches.ts';
import type { Influxd, VictoriaMetrics } from './support/influxdb-servers.ts';
import { INFLUX_ADMIN, startInfluxd, startVictoriaMetrics } from './support/influxdb-servers.ts';
import { createReadableMeter } from './support/metric-reader.ts';
import { missing, poll } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

// Real InfluxDB 1.6.7 (Debian influxdb) with authentication on, and VictoriaMetrics for the
// 2.x write API (/api/v2/write), which InfluxDB 1.6.7 does not serve.
const skipInflux = missing('influxd', 'influxdb');
const skipVictoria = missing('victoria-metrics', 'victoria-metrics');
const dir = mkdtempSync(join(tmpdir(), 'inframeter-influxdb-'));
const exporters: InfluxdbExporter[] = [];

afterAll(async () => {
  for (const e of exporters) await e.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function createExporter(config: Record<string, unknown>, id = 'influxdb') {
  const readable = createReadableMeter();
  const settings = { ...createTestSettings(id, 'exporter'), meter: readable.meter };
  const exporter = new InfluxdbExporter(settings, configSchema.parse(config));
  exporters.push(exporter);
  return {
    exporter,
    settings,
    rejected: (reason: string) => readable.value('inframeter.influxdb.points.rejected', { reason }),
  };
}

function exportBatch(exporter: InfluxdbExporter, batch: ResourceMetrics): Promise<void> {
  return new Promise((resolve, reject) => {
    exporter.export(batch, (result) => {
      if (result.code === ExportResultCode.SUCCESS) resolve();
      else reject(result.error ?? new Error('export failed'));
    });
  });
}

async function drained(exporter: InfluxdbExporter, timeoutMs = 60_000): Promise<void> {
  await poll('queue drained', timeoutMs, () =>
    Promise.resolve(exporter.status().queuedBatches === 0 ? true : undefined),
  );
}

/** RFC 3339 with nanoseconds, as InfluxDB prints it (trailing zeros of the fraction dropped). */
function rfc3339(time: HrTime): string {
  const base = new Date(time[0] * 1000).toISOString().slice(0, 19);
  const fraction = String(time[1]).padStart(9, '0').replace(/0+$/, '');
  return `${base}${fraction === '' ? '' : `.${fraction}`}Z`;
}

describe.skipIf(skipInflux)('influxdb exporter against InfluxDB 1.6.7', () => {
  let influx: Influxd;
  const base = {
    api_version: 1,
    database: 'metrics',
    username: INFLUX_ADMIN.user,
    password: INFLUX_ADMIN.password,
    retry_on_failure: { initial_interval: '200ms', max_interval: '2s', max_elapsed_time: 0 },
  };

  beforeAll(async () => {
    influx = await startInfluxd(join(dir, 'influxd'), { auth: true });
    await influx.query('CREATE DATABASE metrics');
    await influx.query('CREATE RETENTION POLICY "weeks" ON "metrics" DURATION 10000w REPLICATION 1');
  });
  afterAll(async () => {
    await influx.stop();
  });

  it('does not serve the 2.x write API (/api/v2/write answers 404)', async () => {
    const response = await fetch(`${influx.url}/api/v2/write?org=o&bucket=metrics`, {
      method: 'POST',
      body: 'm value=1',
    });
    expect(response.status).toBe(404);
  });

  it('writes values, timestamps and tags that read back exactly', async () => {
    const { exporter } = createExporter({ ...base, endpoint: influx.url, retention_policy: 'weeks' });
    await exporter.start();
    const t1: HrTime = [1_764_003_600, 123_456_789];
    const t2: HrTime = [1_764_003_601, 5];
    const tags = { host: 'h 1,a=b', path: 'C:\\dir\\file', 'odd key': 'é ✓', empty: '' };
    const floats = [0.1, 1e21, 5e-324, -123456.789, 1 / 3];
    const ints = [0, -5, 9_007_199_254_740_991];
    await exportBatch(
      exporter,
      batchOf([
        ...floats.map((v, i) => numberMetric('test.float', [[{ ...tags, i: String(i) }, v]], { end: t1 })),
        numberMetric(
          'test.int',
          ints.map((v, i) => [{ ...tags, i: String(i) }, v] as const),
          { int: true, sum: true, end: t2 },
        ),
      ]),
    );
    await drained(exporter);
    const read = async (measurement: string) => {
      const result = await influx.query(`SELECT "value" FROM "weeks"."${measurement}" GROUP BY *`, 'metrics');
      return (result.results[0]?.series ?? [])
        .map((s) => ({ tags: s.tags, rows: s.values }))
        .sort((a, b) => Number(a.tags?.i) - Number(b.tags?.i));
    };
    const expectedTags = (i: number) => ({
      host: 'h 1,a=b',
      path: 'C:\\dir\\file',
      'odd key': 'é ✓',
      i: String(i),
    });
    expect(await read('test.float')).toEqual(
      floats.map((v, i) => ({ tags: expectedTags(i), rows: [[rfc3339(t1), v]] })),
    );
    expect(await read('test.int')).toEqual(
      ints.map((v, i) => ({ tags: expectedTags(i), rows: [[rfc3339(t2), v]] })),
    );
    // The integers are stored as integers, the floats as floats.
    const fieldType = async (measurement: string) =>
      (await influx.query(`SHOW FIELD KEYS FROM "weeks"."${measurement}"`, 'metrics')).results[0]?.series?.[0]
        ?.values;
    expect(await fieldType('test.float')).toEqual([['value', 'float']]);
    expect(await fieldType('test.int')).toEqual([['value', 'integer']]);
  });

  it('writes in a coarser precision, truncating the timestamp', async () => {
    const { exporter } = createExporter({
      ...base,
      endpoint: influx.url,
      precision: 's',
      compression: 'none',
    });
    await exporter.start();
    await exportBatch(
      exporter,
      batchOf([numberMetric('test.seconds', [[{}, 7]], { end: [1_764_003_602, 999_999_999] })]),
    );
    await drained(exporter);
    const result = await influx.query('SELECT "value" FROM "test.seconds"', 'metrics');
    expect(result.results[0]?.series?.[0]?.values).toEqual([['2025-11-24T17:00:02Z', 7]]);
  });

  it('drops and counts a refused field type (400 partial write); the other lines are written', async () => {
    const { exporter, settings, rejected } = createExporter({ ...base, endpoint: influx.url });
    await exporter.start();
    const t: HrTime = [1_764_003_700, 0];
    await exportBatch(exporter, batchOf([numberMetric('test.conflict', [[{ s: 'a' }, 1.5]], { end: t })]));
    await drained(exporter);
    // The same field as an integer: InfluxDB refuses that line and writes the others.
    await exportBatch(
      exporter,
      batchOf([
        numberMetric('test.conflict', [[{ s: 'b' }, 2]], { int: true, end: t }),
        numberMetric('test.beside', [[{ s: 'c' }, 3]], { end: t }),
      ]),
    );
    await drained(exporter);
    await exportBatch(exporter, batchOf([numberMetric('test.after', [[{}, 4]], { end: t })]));
    await drained(exporter);
    expect(await rejected('field_type_conflict')).toBe(1);
    expect(settings.telemetry.counts.failed).toBe(1);
    const read = async (m: string) =>
      (await influx.query(`SELECT * FROM "${m}"`, 'metrics')).results[0]?.series?.[0]?.values;
    expect(await read('test.conflict')).toEqual([[rfc3339(t), 'a', 1.5]]);
    expect(await read('test.beside')).toEqual([[rfc3339(t), 'c', 3]]);
    expect(await read('test.after')).toEqual([[rfc3339(t), 4]]);
    expect(exporter.status().sentPoints).toBe(3);
  });

  it('drops and counts a batch refused with 401 (a wrong password), never retrying it', async () => {
    const { exporter, settings, rejected } = createExporter({
      ...base,
      endpoint: influx.url,
      password: 'wrong',
    });
    await exporter.start();
    await exportBatch(
      exporter,
      batchOf([
        numberMetric('test.unauthorized', [
          [{}, 1],
          [{ a: 'b' }, 2],
        ]),
      ]),
    );
    await drained(exporter);
    expect(await rejected('unauthorized')).toBe(2);
    expect(settings.telemetry.counts.failed).toBe(2);
    const result = await influx.query('SHOW MEASUREMENTS WITH MEASUREMENT = "test.unauthorized"', 'metrics');
    expect(result.results[0]?.series).toBeUndefined();
  });

  it('loses nothing over a 30 s outage of InfluxDB (persistent queue)', { timeout: 240_000 }, async () => {
    const { exporter, settings } = createExporter({
      ...base,
      endpoint: influx.url,
      sending_queue: { storage: 'file', directory: join(dir, 'queue') },
    });
    await exporter.start();
    const start = 1_764_010_000;
    let sent = 0;
    const send = async () => {
      await exportBatch(
        exporter,
        batchOf([
          numberMetric('test.outage', [[{ n: String(sent % 3) }, sent]], {
            int: true,
            end: [start + sent, 0],
          }),
        ]),
      );
      sent += 1;
    };
    const every = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let i = 0; i < 3; i += 1) await send();
    await drained(exporter);
    await influx.stop();
    const sentBefore = sent;
    const outageEnds = Date.now() + 30_000;
    while (Date.now() < outageEnds) {
      await send();
      await every(1000);
    }
    // Every point sent while InfluxDB was away is queued (how many that is depends on how
    // quickly a busy machine went round the loop, not on the exporter).
    expect(sent - sentBefore).toBeGreaterThan(0);
    expect(exporter.status().queuedPoints).toBe(sent - sentBefore);
    await influx.start();
    for (let i = 0; i < 3; i += 1) await send();
    await drained(exporter, 120_000);
    const result = await influx.query('SELECT "value" FROM "test.outage"', 'metrics');
    const values = (result.results[0]?.series?.[0]?.values ?? []).map((row) => row[1]);
    expect(values).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(settings.telemetry.counts.failed).toBe(0);
    expect(settings.telemetry.counts.dropped.size).toBe(0);
  });
});

describe.skipIf(skipVictoria)('influxdb exporter, 2.x write API, against VictoriaMetrics', () => {
  let victoria: VictoriaMetrics;
  beforeAll(async () => {
    victoria = await startVictoriaMetrics(join(dir, 'victoria'));
  });
  afterAll(async () => {
    await victoria.stop();
  });

  it('writes to /api/v2/write with org, bucket and token; values, timestamps and tags read back', async () => {
    const { exporter } = createExporter({
      endpoint: victoria.url,
      api_version: 2,
      org: 'acme',
      bucket: 'metrics',
      token: 'secret-token',
      precision: 'ms',
      resource_attributes_as_tags: true,
    });
    await exporter.start();
    await exportBatch(
      exporter,
      batchOf(
        [
          numberMetric(
            'test_v2',
            [
              [{ dir: 'rx' }, 0.1],
              [{ dir: 'tx' }, 12345.5],
            ],
            { end: [1_764_003_600, 123_999_999] },
          ),
          numberMetric('test_v2_int', [[{ dir: 'rx' }, 42]], { int: true, end: [1_764_003_601, 0] }),
        ],
        { 'host.name': 'node-1' },
      ),
    );
    await drained(exporter);
    const series = await poll('series in VictoriaMetrics', 30_000, async () => {
      const response = await fetch(`${victoria.url}/api/v1/export?match[]={__name__=~"test_v2.*"}`);
      const lines = (await response.text())
        .trim()
        .split('\n')
        .filter((l) => l !== '');
      return lines.length === 3
        ? lines.map(
            (l) =>
              JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] },
          )
        : undefined;
    });
    const byKey = Object.fromEntries(series.map((s) => [`${s.metric.__name__}/${s.metric.dir}`, s]));
    expect(byKey['test_v2_value/rx']).toMatchObject({
      metric: { 'host.name': 'node-1' },
      values: [0.1],
      timestamps: [1_764_003_600_123],
    });
    expect(byKey['test_v2_value/tx']).toMatchObject({ values: [12345.5], timestamps: [1_764_003_600_123] });
    expect(byKey['test_v2_int_value/rx']).toMatchObject({ values: [42], timestamps: [1_764_003_601_000] });
  });
});
