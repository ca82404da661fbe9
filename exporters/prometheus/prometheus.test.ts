import { createServer } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { formatHostPort } from '../../kit/config-types.ts';
import { instrumentSink } from '../../service/instrumented-sink.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { CONTENT_TYPES } from '../../kit/prometheus/exposition.ts';
import { prometheusExporterFactory } from './index.ts';
import { PrometheusExporter } from './prometheus.ts';
import { createKnownBatches } from './testdata/fixtures/known-batch.ts';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.shutdown()));
});

function create(raw: Record<string, unknown> = {}, now?: () => number) {
  const settings = createTestSettings('prometheus', 'exporter');
  const config = configSchema.parse({ endpoint: '127.0.0.1:0', ...raw });
  const exporter = new PrometheusExporter(settings, config, now === undefined ? {} : { now });
  running.push(exporter);
  return { exporter, settings };
}

function exportBatch(exporter: PrometheusExporter, batch: ResourceMetrics): ExportResult {
  const results: ExportResult[] = [];
  exporter.export(batch, (result) => results.push(result));
  expect(results).toHaveLength(1);
  return results[0]!;
}

function url(exporter: PrometheusExporter, path: string): string {
  const address = exporter.address();
  if (address === undefined) throw new Error('not listening');
  return `http://${formatHostPort(address)}${path}`;
}

describe('prometheus exporter', () => {
  it('serves the text format by default and OpenMetrics to Prometheus', async () => {
    const { exporter } = create();
    await exporter.start();
    for (const batch of createKnownBatches())
      expect(exportBatch(exporter, batch).code).toBe(ExportResultCode.SUCCESS);

    const text = await fetch(url(exporter, '/metrics'));
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe(CONTENT_TYPES.text);
    const body = await text.text();
    expect(body).toBe(exporter.render('text'));
    expect(body).toContain(
      '\nsystem_cpu_time_seconds_total{cpu="0",cpu_mode="user",instance="agent-1",job="inframeter",otel_scope_name="inframeter/procfs",otel_scope_version="0.1.0"} 1234.5\n',
    );

    const om = await fetch(url(exporter, '/metrics'), { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.headers.get('content-type')).toBe(CONTENT_TYPES.openmetrics);
    const omBody = await om.text();
    expect(omBody.endsWith('# EOF\n')).toBe(true);
    expect(omBody).toContain('\n# TYPE system_cpu_time_seconds counter\n');
  });

  it('answers in the text format when OpenMetrics is disabled', async () => {
    const { exporter } = create({ enable_open_metrics: false });
    await exporter.start();
    const response = await fetch(url(exporter, '/metrics'), { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(response.headers.get('content-type')).toBe(CONTENT_TYPES.text);
    expect(await response.text()).toBe('');
  });

  it('compresses the answer for scrapers that accept gzip', async () => {
    const { exporter } = create();
    await exporter.start();
    for (const batch of createKnownBatches()) exportBatch(exporter, batch);
    const response = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http')
        .then(({ get }) => {
          get(url(exporter, '/metrics'), { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) });
            });
          }).on('error', reject);
        })
        .catch(reject);
    });
    expect(response.encoding).toBe('gzip');
    expect(gunzipSync(response.body).toString('utf8')).toBe(exporter.render('text'));
  });

  it('answers planned expositions, small and over 1 MiB, with and without gzip, as rendered', async () => {
    const { exporter } = create();
    await exporter.start();
    /** A gauge of `n` series with long labels: a plan of plain numbers, about 230 bytes a line. */
    const gauges = (n: number, step: number): ResourceMetrics => ({
      resource: resourceFromAttributes({ 'service.name': 'agent' }),
      scopeMetrics: [
        {
          scope: { name: 'inframeter/test' },
          metrics: [
            {
              descriptor: { name: 'big.gauge', description: 'Gäuge', unit: '', valueType: ValueType.DOUBLE },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints: Array.from({ length: n }, (_, i) => ({
                startTime: [1_795_370_400, 0] as [number, number],
                endTime: [1_795_370_400 + step, 0] as [number, number],
                attributes: { device: `dëvice-${'x'.repeat(150)}-${String(i)}` },
                value: i + step / 3,
              })),
            },
          ],
        },
      ],
    });
    const fetchBody = async (gzip: boolean): Promise<{ length: string | null; text: string }> => {
      const response = await fetch(url(exporter, '/metrics'), {
        headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' },
      });
      expect(response.headers.get('content-encoding')).toBe(gzip ? 'gzip' : null);
      // fetch decodes gzip itself: content-length is that of the bytes sent.
      return { length: response.headers.get('content-length'), text: await response.text() };
    };
    for (const [n, steps] of [
      [10, 3],
      [5_000, 2],
    ] as const) {
      for (let step = 1; step <= steps; step += 1) {
        exportBatch(exporter, gauges(n, step));
        const expected = exporter.render('text');
        if (n === 5_000) expect(Buffer.byteLength(expected)).toBeGreaterThan(1024 * 1024);
        const plain = await fetchBody(false);
        expect(plain.text).toBe(expected);
        expect(plain.length).toBe(String(Buffer.byteLength(expected)));
        expect((await fetchBody(true)).text).toBe(expected);
      }
    }
  });

  it('points to /metrics on /, answers 404 elsewhere and 405 to other methods', async () => {
    const { exporter } = create();
    await exporter.start();
    const index = await fetch(url(exporter, '/'));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<a href="/metrics">');
    const missing = await fetch(url(exporter, '/metric'));
    expect(missing.status).toBe(404);
    await missing.text();
    const post = await fetch(url(exporter, '/metrics'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
    const head = await fetch(url(exporter, '/metrics?x=1'), { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('counts each point once: received and exported by the service around it, dropped by itself', () => {
    const { exporter, settings } = create();
    const instrumented = instrumentSink(exporter, settings.telemetry);
    for (const batch of createKnownBatches()) instrumented.export(batch, () => undefined);
    // 11 points in accepted batches, of which the exponential histogram point is dropped.
    expect(settings.telemetry.counts.received).toBe(11);
    expect(settings.telemetry.counts.exported).toBe(11);
    expect(settings.telemetry.counts.dropped).toEqual(new Map([['exponential_histogram', 1]]));
  });

  it('stops exposing series that stop arriving after metric_expiration', () => {
    let now = 0;
    const { exporter } = create({ metric_expiration: '1m' }, () => now);
    const [host, pdu] = createKnownBatches();
    exportBatch(exporter, host!);
    now = 30_000;
    exportBatch(exporter, pdu!);
    now = 60_001;
    const text = exporter.render();
    expect(text).not.toContain('agent-1');
    expect(text).toContain('hw_power_watts{');
    now = 90_001;
    expect(exporter.render()).toBe('');
  });

  it('reports the bound port and describes itself with it', async () => {
    const { exporter } = create();
    expect(exporter.address()).toBeUndefined();
    expect(exporter.describe()).toBe('http://127.0.0.1:0/metrics');
    await exporter.start();
    const address = exporter.address();
    expect(address?.host).toBe('127.0.0.1');
    expect(address?.port).toBeGreaterThan(0);
    expect(exporter.describe()).toBe(`http://127.0.0.1:${address?.port}/metrics`);
  });

  it('fails to start on a port already in use, naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { exporter } = create({ endpoint: `127.0.0.1:${port}` });
      await expect(exporter.start()).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`);
      await exporter.shutdown();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('shuts down before start and twice, then refuses batches', async () => {
    const { exporter, settings } = create();
    await exporter.shutdown();
    await exporter.shutdown();
    const result = exportBatch(exporter, createKnownBatches()[1]!);
    expect(result.code).toBe(ExportResultCode.FAILED);
    // Counted by the service around the exporter, once.
    instrumentSink(exporter, settings.telemetry).export(createKnownBatches()[1]!, () => undefined);
    expect(settings.telemetry.counts.failed).toBe(4);
    await expect(exporter.start()).rejects.toThrow('shut down');
  });

  it('closes its port on shutdown', async () => {
    const { exporter } = create();
    await exporter.start();
    const target = url(exporter, '/metrics');
    await (await fetch(target)).text();
    await exporter.shutdown();
    await exporter.shutdown();
    await expect(fetch(target)).rejects.toThrow();
  });

  it('is created by its factory from a parsed config', () => {
    const exporter = prometheusExporterFactory.create(
      createTestSettings('prometheus', 'exporter'),
      prometheusExporterFactory.configSchema.parse({}),
    );
    expect(exporter.describe?.()).toBe('http://0.0.0.0:9464/metrics');
    expect(prometheusExporterFactory.type).toBe('prometheus');
  });
});
