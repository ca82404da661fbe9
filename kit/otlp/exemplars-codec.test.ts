import { ValueType } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { Exemplar } from '../exemplars.ts';
import { exemplarsOf, withExemplars } from '../exemplars.ts';
import { decodeMetricsRequest, decodeMetricsRequestJson } from './decode.ts';
import { encodeExportRequest } from './encode.ts';
import { otlpTypes } from './proto.ts';

/**
 * Exemplars through the OTLP codec: the decoder carries them on the points, the encoder writes
 * them back, bit for bit (ids, time to the nanosecond, int or double value, filtered
 * attributes); a batch without exemplars is still written by the official serializer alone.
 */

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

const intExemplar: Exemplar = {
  filteredAttributes: { user: 'alice', retry: 2 },
  value: -(2 ** 40) - 3,
  valueType: ValueType.INT,
  timestamp: [1_765_000_123, 456_789_012],
  traceId: TRACE,
  spanId: SPAN,
};
const doubleExemplar: Exemplar = {
  filteredAttributes: {},
  value: 0.1 + 0.2,
  valueType: ValueType.DOUBLE,
  timestamp: [1_765_000_124, 1],
};
const bucketExemplars: Exemplar[] = [
  {
    filteredAttributes: { route: '/a' },
    value: 0.004,
    valueType: ValueType.DOUBLE,
    timestamp: [5, 999_999_999],
  },
  { filteredAttributes: {}, value: 7, valueType: ValueType.INT, timestamp: undefined, traceId: TRACE },
];

const time = (s: number): [number, number] => [s, 0];

function metric(
  name: string,
  dataPointType: DataPointType,
  valueType: ValueType,
  dataPoints: DataPoint<unknown>[],
): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit: 's', valueType },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType,
    isMonotonic: true,
    dataPoints,
  } as MetricData;
}

function batch(metrics: MetricData[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'service.name': 'api' }),
    scopeMetrics: [{ scope: { name: 'app', version: '1.0' }, metrics }],
  };
}

const plainCounter = metric('plain.total', DataPointType.SUM, ValueType.INT, [
  { startTime: time(1), endTime: time(2), attributes: { a: 'x' }, value: 4 },
]);
const counter = metric('requests.total', DataPointType.SUM, ValueType.INT, [
  withExemplars({ startTime: time(1), endTime: time(2), attributes: { a: 'x' }, value: 10 }, [
    intExemplar,
    doubleExemplar,
  ]),
  { startTime: time(1), endTime: time(2), attributes: { a: 'y' }, value: 3 },
]);
const gauge = metric('temperature', DataPointType.GAUGE, ValueType.DOUBLE, [
  withExemplars({ startTime: time(1), endTime: time(2), attributes: {}, value: 21.5 }, [doubleExemplar]),
]);
const histogram = metric('latency', DataPointType.HISTOGRAM, ValueType.DOUBLE, [
  withExemplars(
    {
      startTime: time(1),
      endTime: time(2),
      attributes: { a: 'x' },
      value: {
        buckets: { boundaries: [0.005, 0.1], counts: [1, 0, 1] },
        count: 2,
        sum: 7.004,
        min: 0.004,
        max: 7,
      },
    },
    bucketExemplars,
  ),
]);
const exponential = metric('size', DataPointType.EXPONENTIAL_HISTOGRAM, ValueType.DOUBLE, [
  withExemplars(
    {
      startTime: time(1),
      endTime: time(2),
      attributes: {},
      value: {
        count: 3,
        sum: 6,
        scale: 1,
        zeroCount: 1,
        positive: { offset: 2, bucketCounts: [1, 1] },
        negative: { offset: 0, bucketCounts: [] },
        min: 0,
        max: 4,
      },
    },
    [intExemplar],
  ),
]);

/** A decoded batch's metrics by name. */
function byName(batches: ResourceMetrics[]): Map<string, MetricData> {
  return new Map(
    batches.flatMap((b) => b.scopeMetrics.flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m]))),
  );
}

/** Points without their exemplars. */
const bare = (m: MetricData | undefined): unknown[] =>
  (m?.dataPoints ?? []).map((p) => ({ ...p, exemplars: undefined }));

describe('OTLP exemplars', () => {
  it('writes the exemplars of every point kind and reads them back bit for bit', () => {
    const original = batch([plainCounter, counter, gauge, histogram, exponential]);
    const decoded = decodeMetricsRequest(encodeExportRequest([original]));
    expect(decoded.exemplarsDropped).toBe(0);
    const metrics = byName(decoded.batches);
    for (const m of original.scopeMetrics[0]!.metrics) {
      const back = metrics.get(m.descriptor.name);
      expect(back?.descriptor).toEqual(m.descriptor);
      expect(back?.dataPointType).toBe(m.dataPointType);
      expect(bare(back)).toEqual(bare(m));
      expect(back?.dataPoints.map((p) => exemplarsOf(p))).toEqual(m.dataPoints.map((p) => exemplarsOf(p)));
    }
    // The int exemplar is written as as_int, the double one as as_double, the ids as bytes.
    const request = otlpTypes.ExportMetricsServiceRequest.toObject(
      otlpTypes.ExportMetricsServiceRequest.decode(encodeExportRequest([batch([counter])])),
      { longs: String, bytes: String },
    ) as {
      resourceMetrics: {
        scopeMetrics: { metrics: { sum: { dataPoints: { exemplars?: unknown[] }[] } }[] }[];
      }[];
    };
    const exemplars = request.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.sum.dataPoints[0]!.exemplars;
    expect(exemplars).toEqual([
      {
        filteredAttributes: [
          { key: 'user', value: { stringValue: 'alice' } },
          { key: 'retry', value: { intValue: '2' } },
        ],
        timeUnixNano: '1765000123456789012',
        asInt: String(-(2 ** 40) - 3),
        traceId: Buffer.from(TRACE, 'hex').toString('base64'),
        spanId: Buffer.from(SPAN, 'hex').toString('base64'),
      },
      { timeUnixNano: '1765000124000000001', asDouble: 0.1 + 0.2 },
    ]);
  });

  it('writes a batch without exemplars with the official serializer alone, byte for byte', () => {
    const plain = batch([plainCounter]);
    expect(Buffer.from(encodeExportRequest([plain]))).toEqual(
      Buffer.from(ProtobufMetricsSerializer.serializeRequest(plain)!),
    );
  });

  it('reads OTLP/JSON exemplars with hex ids as the protobuf ones', () => {
    const decoded = decodeMetricsRequestJson(
      JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'c',
                    sum: {
                      aggregationTemporality: 2,
                      isMonotonic: true,
                      dataPoints: [
                        {
                          asInt: '5',
                          timeUnixNano: '2000000000',
                          exemplars: [
                            {
                              asInt: '-1099511627779',
                              timeUnixNano: '1765000123456789012',
                              traceId: TRACE,
                              spanId: SPAN,
                              filteredAttributes: [
                                { key: 'user', value: { stringValue: 'alice' } },
                                { key: 'retry', value: { intValue: '2' } },
                              ],
                            },
                          ],
                        },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const point = decoded.batches[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!;
    expect(exemplarsOf(point)).toEqual([intExemplar]);
  });

  it('leaves out ids of the wrong length and counts the exemplars of points it does not convert', () => {
    const bytes = otlpTypes.ExportMetricsServiceRequest.encode(
      otlpTypes.ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'g',
                    gauge: {
                      dataPoints: [
                        {
                          asDouble: 1,
                          exemplars: [
                            { asDouble: 2, traceId: Buffer.from('abcd', 'hex'), spanId: Buffer.alloc(0) },
                          ],
                        },
                        { flags: 1, exemplars: [{ asDouble: 3 }, { asInt: 4 }] },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const decoded = decodeMetricsRequest(bytes);
    expect(decoded.noRecordedValue).toBe(1);
    expect(decoded.exemplarsDropped).toBe(2);
    const points = decoded.batches[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints;
    expect(points.map((p) => exemplarsOf(p))).toEqual([
      [{ filteredAttributes: {}, value: 2, valueType: ValueType.DOUBLE, timestamp: undefined }],
    ]);
  });
});
