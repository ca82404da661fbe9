import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { formatHostPort } from '../kit/config-types.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { encodeExportRequest } from '../kit/otlp/encode.ts';
import { otlpTypes } from '../kit/otlp/proto.ts';
import { hrTimeToBits } from '../kit/otlp/time.ts';
import { otlpReceiverFactory } from '../receivers/otlp/factory.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import { factories } from '../service/components.ts';
import { createRegistry, loadConfigText } from '../service/config.ts';
import { Service } from '../service/service.ts';
import { freePort, poll } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * OTLP in → a gateway collector (otlp receiver → batch → otlp exporter) → OTLP out: the
 * exemplars of sum, gauge, histogram and exponential histogram points arrive bit for bit —
 * trace and span ids, time to the nanosecond, integer or double value, filtered attributes —
 * whether the request came as protobuf or as OTLP/JSON (hex ids).
 */

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const T = hrTimeToBits([1_765_000_123, 456_789_012]);
const kv = (key: string, value: object): object => ({ key, value });

const exemplarsByMetric: Record<string, object[]> = {
  requests: [
    {
      asInt: -(2 ** 40) - 3,
      timeUnixNano: T,
      traceId: Buffer.from(TRACE, 'hex'),
      spanId: Buffer.from(SPAN, 'hex'),
      filteredAttributes: [
        kv('user', { stringValue: 'alice' }),
        kv('retry', { intValue: 2 }),
        kv('cached', { boolValue: true }),
        kv('ratio', { doubleValue: 0.25 }),
      ],
    },
    { asDouble: 0.1 + 0.2, timeUnixNano: hrTimeToBits([1_765_000_124, 1]) },
  ],
  temperature: [{ asDouble: -21.5, timeUnixNano: T, spanId: Buffer.from(SPAN, 'hex') }],
  latency: [
    { asDouble: 0.004, timeUnixNano: T, filteredAttributes: [kv('route', { stringValue: '/a' })] },
    { asInt: 7, traceId: Buffer.from(TRACE, 'hex') },
  ],
  size: [
    { asDouble: 3.5, timeUnixNano: T, traceId: Buffer.from(TRACE, 'hex'), spanId: Buffer.from(SPAN, 'hex') },
  ],
};

const point = { startTimeUnixNano: hrTimeToBits([1_765_000_000, 0]), timeUnixNano: T };
const request = {
  resourceMetrics: [
    {
      resource: { attributes: [kv('service.name', { stringValue: 'api' })] },
      scopeMetrics: [
        {
          scope: { name: 'app', version: '1.0' },
          metrics: [
            {
              name: 'requests',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [{ ...point, asInt: 10, exemplars: exemplarsByMetric.requests }],
              },
            },
            {
              name: 'temperature',
              gauge: { dataPoints: [{ ...point, asDouble: 21.5, exemplars: exemplarsByMetric.temperature }] },
            },
            {
              name: 'latency',
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  {
                    ...point,
                    count: 2,
                    sum: 7.004,
                    bucketCounts: [1, 0, 1],
                    explicitBounds: [0.005, 0.1],
                    exemplars: exemplarsByMetric.latency,
                  },
                ],
              },
            },
            {
              name: 'size',
              exponentialHistogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  {
                    ...point,
                    count: 2,
                    sum: 6,
                    scale: 1,
                    zeroCount: 0,
                    positive: { offset: 2, bucketCounts: [1, 1] },
                    exemplars: exemplarsByMetric.size,
                  },
                ],
              },
            },
            { name: 'plain', gauge: { dataPoints: [{ ...point, asDouble: 1 }] } },
          ],
        },
      ],
    },
  ],
};

const Request = otlpTypes.ExportMetricsServiceRequest;
const bytes = Request.encode(Request.fromObject(request)).finish();

/** The exemplars of every point of a protobuf request, by metric name, as protobufjs reads them. */
function exemplarsIn(protobuf: Uint8Array): Record<string, unknown[]> {
  const object = Request.toObject(Request.decode(protobuf), { longs: String, bytes: String }) as {
    resourceMetrics?: { scopeMetrics?: { metrics?: Record<string, unknown>[] }[] }[];
  };
  const out: Record<string, unknown[]> = {};
  for (const rm of object.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? [])
      for (const metric of sm.metrics ?? []) {
        const data = (metric.sum ?? metric.gauge ?? metric.histogram ?? metric.exponentialHistogram) as {
          dataPoints?: { exemplars?: unknown[] }[];
        };
        out[metric.name as string] = (data.dataPoints ?? []).flatMap((p) => p.exemplars ?? []);
      }
  return out;
}

/** The request as OTLP/JSON: ids in hex, 64-bit integers as strings. */
function asJson(): string {
  const object = Request.toObject(Request.decode(bytes), { longs: String, bytes: String }) as Record<
    string,
    unknown
  >;
  return JSON.stringify(object, (key, value: unknown) =>
    (key === 'traceId' || key === 'spanId') && typeof value === 'string'
      ? Buffer.from(value, 'base64').toString('hex')
      : value,
  );
}

describe('exemplars through an OTLP gateway', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('arrive bit for bit from protobuf and from OTLP/JSON', async () => {
    const received: ResourceMetrics[] = [];
    const last = new OtlpReceiver(
      createTestSettings('otlp/last', 'receiver'),
      otlpReceiverFactory.configSchema.parse({ protocols: { http: { endpoint: '127.0.0.1:0' } } }),
    );
    await last.start({
      export(b, cb) {
        received.push(b);
        cb({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    cleanups.push(() => last.shutdown());
    const lastAddress = last.addresses().http;
    if (lastAddress === undefined) throw new Error('the last receiver has no HTTP address');

    const port = await freePort();
    const config = loadConfigText(
      `
receivers:
  otlp:
    protocols:
      http: { endpoint: '127.0.0.1:${String(port)}' }
processors:
  batch: { timeout: 100ms }
exporters:
  otlp:
    endpoint: http://${formatHostPort(lastAddress)}
    protocol: http/protobuf
    tls: { insecure: true }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [otlp] }
`,
      'gateway.yaml',
      createRegistry(factories),
      {},
    );
    const gateway = new Service(
      config,
      createSilentLogger(),
      resourceFromAttributes({ 'service.name': 'gateway' }),
    );
    cleanups.push(() => gateway.shutdown());
    await gateway.start();

    const expected = exemplarsIn(bytes);
    expect(Object.keys(expected)).toEqual(['requests', 'temperature', 'latency', 'size', 'plain']);
    expect(expected.requests).toHaveLength(2);
    expect(expected.requests?.[0]).toEqual({
      asInt: String(-(2 ** 40) - 3),
      timeUnixNano: '1765000123456789012',
      traceId: Buffer.from(TRACE, 'hex').toString('base64'),
      spanId: Buffer.from(SPAN, 'hex').toString('base64'),
      filteredAttributes: [
        { key: 'user', value: { stringValue: 'alice' } },
        { key: 'retry', value: { intValue: '2' } },
        { key: 'cached', value: { boolValue: true } },
        { key: 'ratio', value: { doubleValue: 0.25 } },
      ],
    });

    for (const [contentType, body] of [
      ['application/x-protobuf', bytes],
      ['application/json', asJson()],
    ] as const) {
      received.length = 0;
      const response = await fetch(`http://127.0.0.1:${String(port)}/v1/metrics`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      const arrived = await poll(`the ${contentType} request at the last receiver`, 30_000, () =>
        Promise.resolve(received.length > 0 ? received.slice() : undefined),
      );
      expect(exemplarsIn(encodeExportRequest(arrived))).toEqual(expected);
    }
  }, 60_000);
});
