import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { createRequire } from 'node:module';
import type * as ProtoJson from 'protobufjs/ext/protojson.js';
import { otlpTypes } from '../proto.ts';

/**
 * OTLP requests the codec tests share, built as protobufjs plain objects and encoded by
 * protobufjs (an encoder independent of ours), and the plain form of decoded batches that the
 * golden files hold.
 */

const require = createRequire(import.meta.url);
const protojson = require('protobufjs/ext/protojson.js') as typeof ProtoJson;

/** A request object (protobufjs `fromObject` shape) → protobuf bytes. */
export function encodeRequest(request: object): Uint8Array {
  const type = otlpTypes.ExportMetricsServiceRequest;
  return type.encode(type.fromObject(request)).finish();
}

/**
 * A request object (or its protobuf bytes) → its OTLP/JSON text: ProtoJSON (lowerCamelCase names, 64-bit integers as
 * strings, bytes in base64) with trace and span ids in hex, as OTLP/JSON has them.
 */
export function requestJson(request: object): string {
  const type = otlpTypes.ExportMetricsServiceRequest;
  const message = request instanceof Uint8Array ? type.decode(request) : type.fromObject(request);
  return JSON.stringify(protojson.toJson(type, message), (key, value: unknown) =>
    (key === 'traceId' || key === 'spanId') && typeof value === 'string'
      ? Buffer.from(value, 'base64').toString('hex')
      : value,
  );
}

export const time = { low: 1_000_000_000, high: 0 };
export const later = { low: 2_000_000_000, high: 1 };
const kv = (key: string, value: object) => ({ key, value });

/**
 * A request with every point kind (gauge and sum of int and double, histogram, exponential
 * histogram, summary), attributes of every AnyValue kind on points, resources and scopes,
 * exemplars, and every rejection the decoder makes.
 */
export const everything = {
  resourceMetrics: [
    {
      resource: {
        attributes: [
          kv('host.name', { stringValue: 'node-1' }),
          kv('cores', { intValue: 8 }),
          kv('labels', { kvlistValue: { values: [kv('app', { stringValue: 'db' })] } }),
          kv('tags', { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }),
          kv('on', { boolValue: true }),
          kv('ratio', { doubleValue: 0.5 }),
          kv('id', { bytesValue: Buffer.from([1, 2, 255]) }),
          { key: 'empty' },
        ],
        droppedAttributesCount: 2,
      },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeMetrics: [
        {
          scope: { name: 's', version: '1.0', attributes: [kv('x', { boolValue: true })] },
          schemaUrl: 'https://example.com/scope',
          metrics: [
            {
              name: 'gauge.int',
              unit: 'By',
              description: 'héllo ✓',
              gauge: {
                dataPoints: [
                  { asInt: 5, timeUnixNano: time, attributes: [kv('cpu', { stringValue: '0' })] },
                  { asInt: -7, timeUnixNano: time, attributes: [kv('cpu', { stringValue: '1' })] },
                  { asInt: 9, timeUnixNano: later, attributes: [kv('cpu', { stringValue: '0' })] },
                ],
              },
            },
            {
              name: 'gauge.double',
              gauge: {
                dataPoints: [
                  {
                    asDouble: -0.25,
                    timeUnixNano: later,
                    attributes: [
                      kv('up', { boolValue: false }),
                      kv('nested', {
                        kvlistValue: {
                          values: [
                            kv('list', { arrayValue: { values: [{ boolValue: true }, { doubleValue: 1.5 }] } }),
                            kv('n', { intValue: 3 }),
                            { key: 'none' },
                          ],
                        },
                      }),
                    ],
                  },
                ],
              },
            },
            {
              name: 'sum.double',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [
                  {
                    asDouble: 1.5,
                    startTimeUnixNano: time,
                    timeUnixNano: later,
                    attributes: [
                      kv('raw', { bytesValue: Buffer.from('hi') }),
                      kv('mixed', { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'x' }, {}] } }),
                      kv('d', { doubleValue: 0.25 }),
                      kv('neg', { intValue: -(2 ** 40) }),
                    ],
                    exemplars: [
                      {
                        asDouble: 1,
                        timeUnixNano: time,
                        filteredAttributes: [kv('t', { stringValue: 'u' })],
                        traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                        spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                      },
                    ],
                  },
                  { asInt: 3, timeUnixNano: later, flags: 0 },
                ],
              },
            },
            {
              name: 'sum.int',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: false,
                dataPoints: [{ asInt: '9007199254740991', startTimeUnixNano: time, timeUnixNano: later }],
              },
            },
            {
              name: 'delta',
              sum: { aggregationTemporality: 1, dataPoints: [{ asInt: 1, timeUnixNano: time }] },
            },
            {
              name: 'no.temporality',
              sum: { dataPoints: [{ asInt: 1 }, { asInt: 2 }] },
            },
            { name: 'no.value', gauge: { dataPoints: [{ timeUnixNano: time }, { asDouble: 2.5 }] } },
            { name: 'stale', gauge: { dataPoints: [{ timeUnixNano: time, flags: 1 }] } },
            {
              name: 'hist',
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  {
                    timeUnixNano: time,
                    count: 6,
                    sum: 2.75,
                    min: 0.001,
                    max: 2.1,
                    bucketCounts: [3, 2, 0, 1],
                    explicitBounds: [0.005, 0.1, 1],
                    attributes: [kv('route', { stringValue: '/a,b' })],
                    exemplars: [{ asInt: 2 }],
                  },
                  { timeUnixNano: time, count: 1, bucketCounts: [1], explicitBounds: [1, 2] },
                  { timeUnixNano: time, flags: 1 },
                  { timeUnixNano: time, count: 0 },
                ],
              },
            },
            { name: 'hist.unspecified', histogram: { dataPoints: [{ count: 1 }] } },
            {
              name: 'exp',
              exponentialHistogram: {
                aggregationTemporality: 1,
                dataPoints: [
                  {
                    timeUnixNano: later,
                    count: 4,
                    sum: 10,
                    scale: -2,
                    zeroCount: 1,
                    zeroThreshold: 0.5,
                    positive: { offset: -3, bucketCounts: [1, 2] },
                    negative: { offset: 4, bucketCounts: [1] },
                    min: -1,
                    max: 5,
                    exemplars: [{}],
                  },
                  { timeUnixNano: later, flags: 1 },
                ],
              },
            },
            { name: 'exp.unspecified', exponentialHistogram: { dataPoints: [{ count: 1 }] } },
            {
              name: 'summary',
              unit: 's',
              summary: {
                dataPoints: [
                  {
                    attributes: [kv('method', { stringValue: 'Get' })],
                    startTimeUnixNano: time,
                    timeUnixNano: later,
                    count: 10,
                    sum: 4.5,
                    quantileValues: [
                      { quantile: 0.5, value: 0.3 },
                      { quantile: 0.99, value: 1.2 },
                    ],
                  },
                  { timeUnixNano: later, flags: 1 },
                ],
              },
            },
            { name: '', gauge: { dataPoints: [{ asInt: 1 }, { asInt: 2 }] } },
            { name: 'no.data' },
            { name: 'empty.gauge', gauge: {} },
            {
              name: 'meta',
              metadata: [kv('k', { stringValue: 'v' })],
              gauge: { dataPoints: [{ asDouble: 1 }] },
            },
          ],
        },
        { scope: { name: 'empty' }, metrics: [] },
      ],
    },
    { resource: { attributes: [kv('host.name', { stringValue: 'node-2' })] }, scopeMetrics: [] },
    {
      resource: { attributes: [kv('host.name', { stringValue: 'node-1' })] },
      scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ asDouble: 0.5 }] } }] }],
    },
  ],
};

/** A value with bytes as `{ base64 }`, so that JSON keeps them apart from strings. */
function plainValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(plainValue);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
  return value;
}

/** Decoded batches as plain JSON data (the resource by its attributes and schema URL). */
export function plainBatches(batches: readonly ResourceMetrics[]): unknown {
  return plainValue(
    batches.map((b) => ({
      resource: { attributes: b.resource.attributes, schemaUrl: b.resource.schemaUrl },
      scopeMetrics: b.scopeMetrics,
    })),
  );
}

interface ObjectMetric {
  name: string;
  data?: string;
  gauge?: { dataPoints: unknown[] };
  sum?: { dataPoints: unknown[] };
  histogram?: { dataPoints: unknown[] };
  exponentialHistogram?: { dataPoints: unknown[] };
  summary?: { dataPoints: { flags: number; quantileValues: unknown[] }[] };
}

/**
 * What protobufjs makes of `bytes`, as the sum every decoding must account for: `undefined`
 * when it rejects them, else the number of outcomes (SDK points + rejected points + points
 * without a recorded value) the request holds — one per OTLP point, and k + 2 per summary
 * point with k quantiles when its metric has a name.
 */
export function protobufjsOutcomes(bytes: Uint8Array): number | undefined {
  const type = otlpTypes.ExportMetricsServiceRequest;
  let object: { resourceMetrics: { scopeMetrics: { metrics: ObjectMetric[] }[] }[] };
  try {
    object = type.toObject(type.decode(bytes), { oneofs: true, arrays: true, defaults: true }) as typeof object;
  } catch {
    return undefined;
  }
  let total = 0;
  for (const rm of object.resourceMetrics)
    for (const sm of rm.scopeMetrics)
      for (const metric of sm.metrics) {
        switch (metric.data) {
          case 'gauge':
          case 'sum':
          case 'histogram':
          case 'exponentialHistogram':
            total += metric[metric.data]?.dataPoints.length ?? 0;
            break;
          case 'summary':
            for (const p of metric.summary?.dataPoints ?? [])
              total += metric.name === '' || (p.flags & 1) !== 0 ? 1 : p.quantileValues.length + 2;
            break;
          default:
            break;
        }
      }
  return total;
}
