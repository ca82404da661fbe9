import { SeverityNumber } from '@opentelemetry/api';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ComponentSettings } from '../../kit/component.ts';
import { createSilentLogger } from '../../kit/logger.ts';
import { SelfTelemetry } from '../../kit/self-telemetry.ts';
import { createRecordingTelemetry } from '../../test/support/settings.ts';
import { decodeLogsRequest } from '../../test/support/otlp-logs.ts';
import { configSchema } from './config.ts';
import { OtlpLogsExporter, toLogsTarget } from './logs.ts';

/**
 * The logs half of the otlp exporter against an OTLP/HTTP server on loopback that answers a
 * script of statuses: retryable failures retried with backoff until delivered, a
 * non-retryable one dropped and counted, the queue bound, and the path of the logs endpoint.
 */

const resource = resourceFromAttributes({ 'host.name': 'node-1' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function record(i: number): ReadableLogRecord {
  return {
    hrTime: [1_796_029_964 + i, 5],
    hrTimeObserved: [1_796_029_999, 0],
    body: `line ${String(i)}`,
    severityText: 'info',
    severityNumber: SeverityNumber.INFO,
    resource,
    instrumentationScope: { name: 'test' },
    attributes: { 'k8s.pod.name': 'p' },
    droppedAttributesCount: 0,
  };
}

async function startServer(
  statuses: number[],
): Promise<{ url: string; bodies: string[][]; paths: string[] }> {
  const bodies: string[][] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        bodies.push(decodeLogsRequest(body).map((r) => String(r.body)));
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? '' : 'try later');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, bodies, paths };
}

function exporterFor(
  url: string,
  extra: Record<string, unknown> = {},
): { exporter: OtlpLogsExporter; telemetry: SelfTelemetry } {
  const telemetry = new SelfTelemetry(resource);
  cleanups.push(() => telemetry.shutdown());
  const settings: ComponentSettings = {
    id: 'otlp',
    kind: 'exporter',
    logger: createSilentLogger(),
    telemetry: createRecordingTelemetry(),
    meter: telemetry.meter,
    resource,
  };
  const config = configSchema.parse({
    endpoint: url,
    protocol: 'http/protobuf',
    retry_on_failure: { initial_interval: '20ms', max_interval: '50ms', max_elapsed_time: '5s' },
    ...extra,
  });
  const exporter = new OtlpLogsExporter(settings, config, { random: () => 0.5 });
  cleanups.push(() => exporter.shutdown());
  return { exporter, telemetry };
}

function exportOnce(exporter: OtlpLogsExporter, records: ReadableLogRecord[]): Promise<ExportResult> {
  return new Promise((resolve) => {
    exporter.export(records, resolve);
  });
}

async function counter(telemetry: SelfTelemetry, name: string): Promise<Record<string, number>> {
  const { resourceMetrics } = await telemetry.reader.collect();
  const out: Record<string, number> = {};
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics)
      if (metric.descriptor.name === name)
        for (const point of metric.dataPoints) {
          const reason = point.attributes.reason;
          out[typeof reason === 'string' ? reason : 'total'] = Number(point.value);
        }
  return out;
}

describe('otlp exporter, logs', () => {
  it('retries 503 and 429 until the backend takes the records, in order, at /v1/logs', async () => {
    const server = await startServer([503, 429]);
    const { exporter, telemetry } = exporterFor(server.url);
    expect((await exportOnce(exporter, [record(1), record(2)])).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportOnce(exporter, [record(3)])).code).toBe(ExportResultCode.SUCCESS);
    await exporter.forceFlush();
    expect(server.bodies).toEqual([['line 1', 'line 2'], ['line 3']]);
    expect(server.paths).toEqual(['/v1/logs', '/v1/logs', '/v1/logs', '/v1/logs']);
    expect(await counter(telemetry, 'inframeter.exporter.log_records.sent')).toEqual({ total: 3 });
    expect(await counter(telemetry, 'inframeter.exporter.log_records.dropped')).toEqual({});
  });

  it('drops and counts records the backend refuses for good (400), and goes on with the next', async () => {
    const server = await startServer([400]);
    const { exporter, telemetry } = exporterFor(server.url, { sending_queue: { enabled: false } });
    const refused = await exportOnce(exporter, [record(1), record(2)]);
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(refused.error?.message).toBe('HTTP 400: try later');
    expect((await exportOnce(exporter, [record(3)])).code).toBe(ExportResultCode.SUCCESS);
    expect(server.bodies).toEqual([['line 3']]);
    expect(await counter(telemetry, 'inframeter.exporter.log_records.dropped')).toEqual({ send_failed: 2 });
  });

  it('drops the oldest queued records beyond queue_size, never the one being sent', async () => {
    // The first request waits on two retryable failures while three more are queued.
    const server = await startServer([503, 503]);
    const { exporter, telemetry } = exporterFor(server.url, { sending_queue: { queue_size: 3 } });
    for (let i = 1; i <= 4; i += 1) await exportOnce(exporter, [record(i)]);
    await exporter.forceFlush();
    expect(server.bodies).toEqual([['line 1'], ['line 3'], ['line 4']]);
    expect(await counter(telemetry, 'inframeter.exporter.log_records.dropped')).toEqual({ queue_full: 1 });
  });

  it('puts logs beside metrics on the HTTP endpoint', () => {
    const at = (target: string): string => toLogsTarget({ host: 'h', port: 1, secure: false, target }).target;
    expect(at('http://h:4318/v1/metrics')).toBe('http://h:4318/v1/logs');
    expect(at('https://h/otlp/v1/metrics')).toBe('https://h/otlp/v1/logs');
    expect(at('http://h:4318/ingest/')).toBe('http://h:4318/ingest/v1/logs');
  });
});
