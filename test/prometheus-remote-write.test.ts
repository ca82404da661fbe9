import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderExposition } from '../kit/prometheus/exposition.ts';
import { createKnownBatches } from '../exporters/prometheus/testdata/fixtures/known-batch.ts';
import { configSchema } from '../exporters/prometheusremotewrite/config.ts';
import { RemoteWriteExporter } from '../exporters/prometheusremotewrite/prometheusremotewrite.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';
import type { ComponentSettings } from '../kit/component.ts';
import { poll } from './support/peers.ts';
import { createPrometheus, createVictoriaMetrics } from './support/remote-write-stores.ts';
import type { Store, StoredSeries } from './support/remote-write-stores.ts';
import { createRecordingTelemetry } from './support/settings.ts';
import type { RecordedTelemetry } from './support/settings.ts';

/**
 * The prometheusremotewrite exporter against the real receivers of Debian's Prometheus 2.42
 * (`--web.enable-remote-write-receiver`) and VictoriaMetrics 1.79, read back through their
 * query APIs: every label, value and millisecond timestamp equal to what the agent produced
 * (the series our prometheus exporter exposes for the same batches, plus the external
 * labels); a stale marker ends a series in Prometheus; a 30 s outage of both receivers loses
 * no sample; a request Prometheus refuses with 400 is dropped and counted, and the rest goes on.
 */

const skip =
  process.env.CI === undefined &&
  !(existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/victoria-metrics'));
if (skip) {
  console.warn(
    'prometheus-remote-write tests skipped: install the Debian packages prometheus and victoria-metrics (npm run test:deps)',
  );
}

const EXTERNAL = { cluster: 'it', replica: 'a' };

function settingsFor(id: string): ComponentSettings & { telemetry: RecordedTelemetry; self: SelfTelemetry } {
  const resource = resourceFromAttributes({ 'service.name': 'inframeter' });
  const self = new SelfTelemetry(resource);
  return {
    id,
    kind: 'exporter',
    logger: createSilentLogger(),
    telemetry: createRecordingTelemetry(),
    meter: self.meter,
    resource,
    self,
  };
}

function exportBatch(exporter: RemoteWriteExporter, batch: ResourceMetrics): Promise<void> {
  return new Promise((resolve, reject) => {
    exporter.export(batch, (result) => {
      if (result.error !== undefined) reject(result.error);
      else resolve();
    });
  });
}

/** A label value as the text exposition escapes it, read back. */
function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** The series of a text exposition with timestamps, as stores return them. */
function seriesOfExposition(text: string, targetTimestamp: number): StoredSeries[] {
  const out: StoredSeries[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\d+))?$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const [, name = '', labelText = '', value = '', time] = match;
    const labels: Record<string, string> = { __name__: name };
    for (const label of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[label[1] ?? ''] = unescape(label[2] ?? '');
    const numeric = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
    out.push({
      labels,
      samples: [{ timestamp: time === undefined ? targetTimestamp : Number(time), value: numeric }],
    });
  }
  return out;
}

function canonical(series: readonly StoredSeries[]): string[] {
  return series
    .map((s) => {
      const labels = Object.keys(s.labels)
        .sort()
        .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
        .join(',');
      return `${labels} ${s.samples.map((x) => `${String(x.value)}@${x.timestamp}`).join(' ')}`;
    })
    .sort();
}

function gaugeBatch(
  resource: Attributes,
  name: string,
  points: { value: number; end: HrTime; attributes?: Attributes }[],
): ResourceMetrics {
  return {
    resource: resourceFromAttributes(resource),
    scopeMetrics: [
      {
        scope: { name: 'inframeter/it' },
        metrics: [
          {
            descriptor: { name, description: '', unit: '', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: points.map((p) => ({
              startTime: p.end,
              endTime: p.end,
              attributes: p.attributes ?? {},
              value: p.value,
            })),
          },
        ],
      },
    ],
  };
}

/** A summary as the otlp receiver carries it: a gauge of quantiles, `.sum` and `.count`. */
function summaryBatch(end: HrTime): ResourceMetrics {
  const sum = (name: string, value: number, monotonic: boolean, unit: string) => ({
    descriptor: { name, description: 'RPC latency.', unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM as const,
    isMonotonic: monotonic,
    dataPoints: [{ startTime: end, endTime: end, attributes: { method: 'get' }, value }],
  });
  return {
    resource: resourceFromAttributes({ 'service.name': 'inframeter', 'service.instance.id': 'agent-1' }),
    scopeMetrics: [
      {
        scope: { name: 'inframeter/otlp' },
        metrics: [
          {
            descriptor: {
              name: 'rpc.latency',
              description: 'RPC latency.',
              unit: 's',
              valueType: ValueType.DOUBLE,
            },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [
              { startTime: end, endTime: end, attributes: { method: 'get', quantile: '0.5' }, value: 0.125 },
              { startTime: end, endTime: end, attributes: { method: 'get', quantile: '0.99' }, value: 1.5 },
            ],
          },
          sum('rpc.latency.sum', 37.25, false, 's'),
          sum('rpc.latency.count', 120, true, '{count}'),
        ],
      },
    ],
  };
}

const hr = (ms: number, extraNs = 0): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000 + extraNs];

describe.skipIf(skip)('prometheusremotewrite exporter against Prometheus and VictoriaMetrics', () => {
  let dir = '';
  const stores: Record<'prometheus' | 'victoria', Store> = {} as Record<'prometheus' | 'victoria', Store>;
  /** 2 minutes ago, on a whole second, plus 123.456789 ms. */
  const endMs = (Math.floor(Date.now() / 1000) - 120) * 1000 + 123;
  const END = hr(endMs, 456_789);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-prw-'));
    stores.prometheus = await createPrometheus(join(dir, 'prometheus'));
    stores.victoria = await createVictoriaMetrics(join(dir, 'victoria'));
    await Promise.all([stores.prometheus.start(), stores.victoria.start()]);
  });

  afterAll(async () => {
    await Promise.all(Object.values(stores).map((store) => store.stop()));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function createExporter(store: Store, id: string, extra: Record<string, unknown> = {}) {
    const settings = settingsFor(id);
    const config = configSchema.parse({
      endpoint: store.writeUrl,
      external_labels: EXTERNAL,
      shards: 3,
      retry_on_failure: { initial_interval: '200ms', max_interval: '1s', max_elapsed_time: 0 },
      ...extra,
    });
    return { exporter: new RemoteWriteExporter(settings, config), settings };
  }

  it.each(['prometheus', 'victoria'] as const)(
    'writes every label, value and timestamp as the agent produced them (%s)',
    async (name) => {
      const store = stores[name];
      const { exporter, settings } = createExporter(store, `prometheusremotewrite/${name}`);
      await exporter.start();
      const batches = [...createKnownBatches(END), summaryBatch(END)];
      for (const batch of batches) await exportBatch(exporter, batch);
      await exporter.forceFlush();

      // What our prometheus exporter exposes for the known batches, with the same labels
      // added; target_info gets the external labels too and the batch's time.
      const exposition = renderExposition(createKnownBatches(END), {
        constLabels: EXTERNAL,
        timestamps: true,
      });
      const expected = seriesOfExposition(exposition, endMs).map((s) =>
        s.labels.__name__ === 'target_info' ? { ...s, labels: { ...s.labels, ...EXTERNAL } } : s,
      );
      const summary = {
        job: 'inframeter',
        instance: 'agent-1',
        method: 'get',
        otel_scope_name: 'inframeter/otlp',
        ...EXTERNAL,
      };
      expected.push(
        {
          labels: { __name__: 'rpc_latency_seconds', quantile: '0.5', ...summary },
          samples: [{ timestamp: endMs, value: 0.125 }],
        },
        {
          labels: { __name__: 'rpc_latency_seconds', quantile: '0.99', ...summary },
          samples: [{ timestamp: endMs, value: 1.5 }],
        },
        {
          labels: { __name__: 'rpc_latency_seconds_sum', ...summary },
          samples: [{ timestamp: endMs, value: 37.25 }],
        },
        {
          labels: { __name__: 'rpc_latency_seconds_count', ...summary },
          samples: [{ timestamp: endMs, value: 120 }],
        },
      );
      // Every expected series is one the exposition names with the same labels.
      expect(expected.some((s) => s.labels.__name__ === 'http_server_request_duration_seconds_bucket')).toBe(
        true,
      );
      expect(expected.some((s) => s.labels.__name__ === 'target_info')).toBe(true);

      const read = await poll(`${name}: every series`, 30_000, async () => {
        const series = await store.read(endMs - 1000, endMs + 1000);
        const known = series.filter((s) => s.samples.some((x) => x.timestamp === endMs));
        return known.length >= expected.length ? known : undefined;
      });
      expect(canonical(read)).toEqual(canonical(expected));
      expect(settings.telemetry.counts.dropped.get('exponential_histogram')).toBe(1);
      await exporter.shutdown();
    },
  );

  it('ends a series with a stale marker in Prometheus', async () => {
    const store = stores.prometheus;
    const { exporter } = createExporter(store, 'prometheusremotewrite/stale');
    await exporter.start();
    const resource = { 'service.name': 'inframeter', 'service.instance.id': 'stale-1' };
    const t1 = endMs + 10_000;
    const t2 = endMs + 20_000;
    await exportBatch(
      exporter,
      gaugeBatch(resource, 'it.stale', [
        { value: 1, end: hr(t1), attributes: { disk: 'a' } },
        { value: 2, end: hr(t1), attributes: { disk: 'b' } },
      ]),
    );
    // Disk b is gone from the next scrape.
    await exportBatch(
      exporter,
      gaugeBatch(resource, 'it.stale', [{ value: 3, end: hr(t2), attributes: { disk: 'a' } }]),
    );
    await exporter.forceFlush();

    const instant = async (atMs: number): Promise<Record<string, string>> => {
      const params = new URLSearchParams({ query: 'it_stale', time: String(atMs / 1000) });
      const response = await fetch(`${store.api}/api/v1/query?${params.toString()}`);
      const body = (await response.json()) as {
        data: { result: { metric: { disk: string }; value: [number, string] }[] };
      };
      return Object.fromEntries(body.data.result.map((r) => [r.metric.disk, r.value[1]]));
    };
    await poll('second sample of disk a', 30_000, async () =>
      (await instant(t2 + 1000)).a === '3' ? true : undefined,
    );
    // Before the marker both disks show; after it only a, though b's last sample is
    // within the 5 minute lookback.
    expect(await instant(t1 + 1000)).toEqual({ a: '1', b: '2' });
    expect(await instant(t2 + 1000)).toEqual({ a: '3' });
    await exporter.shutdown();
  });

  it('loses nothing through a 30 s outage of both receivers', async () => {
    const queueDir = join(dir, 'queue');
    const exporters = {
      prometheus: createExporter(stores.prometheus, 'prometheusremotewrite/outage-p', {
        sending_queue: { storage: 'file', directory: queueDir },
      }),
      victoria: createExporter(stores.victoria, 'prometheusremotewrite/outage-v'),
    };
    for (const { exporter } of Object.values(exporters)) await exporter.start();
    const resource = { 'service.name': 'inframeter', 'service.instance.id': 'outage-1' };
    const startMs = Date.now() - 60_000;
    let sent = 0;
    const send = async (): Promise<void> => {
      const at = startMs + sent * 1000;
      const batch = gaugeBatch(resource, 'it.outage', [
        { value: sent, end: hr(at), attributes: { part: 'x' } },
        { value: sent + 0.5, end: hr(at), attributes: { part: 'y' } },
      ]);
      await Promise.all(Object.values(exporters).map(({ exporter }) => exportBatch(exporter, batch)));
      sent += 1;
    };
    const sendFor = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await send();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await sendFor(2000);
    await Promise.all(Object.values(stores).map((store) => store.stop()));
    const down = Date.now();
    await sendFor(30_000);
    // The queues held everything while the receivers were away.
    for (const { exporter } of Object.values(exporters))
      expect(exporter.status().queuedPoints).toBeGreaterThan(0);
    expect(Date.now() - down).toBeGreaterThanOrEqual(30_000);
    await Promise.all(Object.values(stores).map((store) => store.start()));
    await sendFor(2000);

    const expected: string[] = [];
    for (let i = 0; i < sent; i += 1) {
      expected.push(`x ${String(i)}@${startMs + i * 1000}`, `y ${String(i + 0.5)}@${startMs + i * 1000}`);
    }
    for (const [name, { exporter }] of Object.entries(exporters)) {
      const store = stores[name as 'prometheus' | 'victoria'];
      const rows = await poll(`${name}: every sample after the outage`, 60_000, async () => {
        const series = (await store.read(startMs - 1000, startMs + sent * 1000 + 1000)).filter(
          (s) => s.labels.__name__ === 'it_outage',
        );
        const got = series.flatMap((s) =>
          s.samples.map((x) => `${s.labels.part ?? ''} ${String(x.value)}@${x.timestamp}`),
        );
        return got.length >= expected.length ? got : undefined;
      });
      expect(rows.sort()).toEqual([...expected].sort());
      await exporter.shutdown();
    }
  }, 180_000);

  it('drops and counts a request Prometheus refuses with 400; the rest goes on', async () => {
    const store = stores.prometheus;
    const { exporter, settings } = createExporter(store, 'prometheusremotewrite/refused', { shards: 1 });
    await exporter.start();
    const resource = { 'service.name': 'inframeter', 'service.instance.id': 'refused-1' };
    const now = Date.now();
    // The head holds recent samples...
    await exportBatch(exporter, gaugeBatch(resource, 'it.anchor', [{ value: 0, end: hr(now) }]));
    await exporter.forceFlush();
    // ...so one far older is out of its bounds: Prometheus answers 400.
    await exportBatch(
      exporter,
      gaugeBatch(resource, 'it.too_old', [{ value: 1, end: hr(now - 5 * 3_600_000) }]),
    );
    // Sent on its own: samples gathered into one request share its fate.
    await exporter.forceFlush();
    await exportBatch(exporter, gaugeBatch(resource, 'it.after', [{ value: 2, end: hr(now) }]));
    await exporter.forceFlush();
    await poll('the batch after the refused one', 30_000, async () => {
      const series = await store.read(now - 1000, now + 1000);
      return series.some((s) => s.labels.__name__ === 'it_after') ? true : undefined;
    });
    expect(settings.telemetry.counts.failed).toBe(1);
    const { resourceMetrics } = await settings.self.reader.collect();
    const rejected = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'inframeter.exporter.points.rejected');
    expect(rejected?.dataPoints.map((p) => [p.attributes.reason, p.value])).toEqual([['http_400', 1]]);
    await exporter.shutdown();
  });
});
