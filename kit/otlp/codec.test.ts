import { ValueType } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../errors.ts';
import { exemplarsOf } from '../exemplars.ts';
import { decodeBatches, decodeMetricsRequest, decodeMetricsRequestJson } from './decode.ts';
import { encodeExportRequest } from './encode.ts';
import { otlpTypes } from './proto.ts';
import { bitsToHrTime, hrTimeToBits } from './time.ts';

class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A batch with every SDK point kind, int and double values and every attribute type. */
async function collectEveryKind(temporality = AggregationTemporality.CUMULATIVE): Promise<ResourceMetrics> {
  const reader = new TestReader({ aggregationTemporalitySelector: () => temporality });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'codec-test',
      'host.cores': 8,
      ratio: 0.5,
      on: true,
      tags: ['a', 'b'],
    }),
    readers: [reader],
    views: [{ instrumentName: 'exp.*', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('codec', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  const attrs = {
    'cpu.mode': 'user',
    cpu: 3,
    negative: -42,
    big: 2 ** 40,
    frac: 1.25,
    flag: false,
    list: [1, 2],
  };
  meter.createCounter('c.double', { unit: 's', description: 'A counter.' }).add(1.5, attrs);
  meter.createCounter('c.int', { valueType: ValueType.INT }).add(7, { a: 'x' });
  meter.createUpDownCounter('udc', { valueType: ValueType.INT }).add(-3);
  meter.createGauge('g').record(-0.25, { a: 'y' });
  meter.createHistogram('h', { advice: { explicitBucketBoundaries: [0, 10, 100] } }).record(42, attrs);
  const exp = meter.createHistogram('exp.latency', { unit: 'ms' });
  for (const v of [0, 0.001, 3, 1000, 5e6]) exp.record(v);
  meter.createObservableGauge('og', { valueType: ValueType.INT }).addCallback((r) => {
    r.observe(12, { slot: 1 });
  });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

describe('time conversion', () => {
  it('round-trips nanosecond timestamps exactly', () => {
    for (const time of [
      [0, 0],
      [1, 1],
      [1_700_000_000, 999_999_999],
      [4_102_444_800, 123_456_789],
      [65_535, 0],
      [65_536, 1],
    ] as [number, number][]) {
      const bits = hrTimeToBits(time);
      const exact = BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
      expect((BigInt(bits.high >>> 0) << 32n) | BigInt(bits.low >>> 0)).toBe(exact);
      expect(bitsToHrTime(bits.low, bits.high)).toEqual(time);
    }
  });
});

describe('OTLP encoding', () => {
  it('writes the same bytes as the official OpenTelemetry JS serializer', async () => {
    for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
      const batch = await collectEveryKind(temporality);
      const ours = encodeExportRequest([batch]);
      const official = ProtobufMetricsSerializer.serializeRequest(batch);
      expect(official).toBeDefined();
      expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(official!).toString('hex'));
    }
  });

  it('round-trips every point kind through encode and decode', async () => {
    const batch = await collectEveryKind();
    const [decoded] = decodeBatches(encodeExportRequest([batch]));
    expect(decoded).toBeDefined();
    expect(decoded!.resource.attributes).toEqual(batch.resource.attributes);
    expect(decoded!.scopeMetrics).toHaveLength(1);
    const scope = decoded!.scopeMetrics[0]!;
    expect(scope.scope).toEqual({
      name: 'codec',
      version: '1.2.3',
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    });
    const original = batch.scopeMetrics[0]!.metrics;
    expect(scope.metrics.map((m) => m.descriptor.name)).toEqual(original.map((m) => m.descriptor.name));
    for (const [i, metric] of scope.metrics.entries()) {
      const want = original[i]!;
      expect(metric.dataPointType).toBe(want.dataPointType);
      expect(metric.descriptor).toEqual({
        name: want.descriptor.name,
        description: want.descriptor.description,
        unit: want.descriptor.unit,
        valueType: want.descriptor.valueType,
      });
      if (metric.dataPointType !== DataPointType.GAUGE)
        expect(metric.aggregationTemporality).toBe(want.aggregationTemporality);
      if (metric.dataPointType === DataPointType.SUM && want.dataPointType === DataPointType.SUM) {
        expect(metric.isMonotonic).toBe(want.isMonotonic);
      }
      expect(metric.dataPoints).toEqual(want.dataPoints);
    }
  });

  it("writes several batches as one request: the serializer's requests one after the other", async () => {
    const cumulative = await collectEveryKind();
    const delta = await collectEveryKind(AggregationTemporality.DELTA);
    const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');
    expect(hex(encodeExportRequest([cumulative, delta]))).toBe(
      hex(ProtobufMetricsSerializer.serializeRequest(cumulative)) +
        hex(ProtobufMetricsSerializer.serializeRequest(delta)),
    );
    const decoded = decodeBatches(encodeExportRequest([cumulative, delta]));
    expect(decoded).toHaveLength(2);
    expect(
      decoded[1]?.scopeMetrics[0]?.metrics.find((m) => m.descriptor.name === 'c.int')?.aggregationTemporality,
    ).toBe(AggregationTemporality.DELTA);
  });

  it('keeps the official decoder and ours in agreement on an empty batch', () => {
    const empty: ResourceMetrics = { resource: resourceFromAttributes({}), scopeMetrics: [] };
    const ours = encodeExportRequest([empty]);
    expect(Buffer.from(ours)).toEqual(Buffer.from(ProtobufMetricsSerializer.serializeRequest(empty)!));
    expect(decodeBatches(ours)).toEqual([]);
  });
});

describe('OTLP decoding', () => {
  const encode = (request: object): Uint8Array =>
    otlpTypes.ExportMetricsServiceRequest.encode(
      otlpTypes.ExportMetricsServiceRequest.fromObject(request),
    ).finish();
  const time = { low: 1_000_000_000, high: 0 };
  const later = { low: 2_000_000_000, high: 0 };

  it('turns a summary into quantile gauges, a sum and a count', () => {
    const bytes = encode({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'rpc.duration',
                  unit: 's',
                  summary: {
                    dataPoints: [
                      {
                        attributes: [{ key: 'method', value: { stringValue: 'Get' } }],
                        startTimeUnixNano: time,
                        timeUnixNano: later,
                        count: 10,
                        sum: 4.5,
                        quantileValues: [
                          { quantile: 0.5, value: 0.3 },
                          { quantile: 0.99, value: 1.2 },
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
    });
    const result = decodeMetricsRequest(bytes);
    expect(result.points).toBe(4);
    expect(result.rejected).toBe(0);
    const metrics = result.batches[0]!.scopeMetrics[0]!.metrics;
    expect(metrics.map((m) => [m.descriptor.name, m.dataPointType, m.descriptor.valueType])).toEqual([
      ['rpc.duration', DataPointType.GAUGE, ValueType.DOUBLE],
      ['rpc.duration.sum', DataPointType.SUM, ValueType.DOUBLE],
      ['rpc.duration.count', DataPointType.SUM, ValueType.INT],
    ]);
    expect(metrics[0]!.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ method: 'Get', quantile: '0.5' }, 0.3],
      [{ method: 'Get', quantile: '0.99' }, 1.2],
    ]);
    expect(metrics[1]!.dataPoints[0]!.value).toBe(4.5);
    expect(metrics[2]!.dataPoints[0]!.value).toBe(10);
    expect(metrics[2]!.dataPoints[0]!.startTime).toEqual([1, 0]);
    expect(metrics[2]!.dataPoints[0]!.endTime).toEqual([2, 0]);
    // Encoded again, it is the OTLP Summary it came as.
    const again = otlpTypes.ExportMetricsServiceRequest.toObject(
      otlpTypes.ExportMetricsServiceRequest.decode(encodeExportRequest(result.batches)),
      { longs: Number },
    ) as { resourceMetrics: { scopeMetrics: { metrics: unknown[] }[] }[] };
    expect(again.resourceMetrics[0]?.scopeMetrics[0]?.metrics).toEqual([
      {
        name: 'rpc.duration',
        unit: 's',
        summary: {
          dataPoints: [
            {
              attributes: [{ key: 'method', value: { stringValue: 'Get' } }],
              startTimeUnixNano: 1_000_000_000,
              timeUnixNano: 2_000_000_000,
              count: 10,
              sum: 4.5,
              quantileValues: [
                { quantile: 0.5, value: 0.3 },
                { quantile: 0.99, value: 1.2 },
              ],
            },
          ],
        },
      },
    ]);
  });

  it('writes a summary beside the other metrics of its batch, in a ResourceMetrics of its own', () => {
    const summary = encode({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'n1' } }] },
          scopeMetrics: [
            {
              scope: { name: 's', version: '2' },
              metrics: [
                { name: 'up', gauge: { dataPoints: [{ asInt: 1, timeUnixNano: time }] } },
                {
                  name: 'rpc.duration',
                  summary: {
                    dataPoints: [
                      {
                        timeUnixNano: later,
                        count: 3,
                        sum: 1.5,
                        quantileValues: [{ quantile: 0.5, value: 0.4 }],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const batches = decodeBatches(summary);
    expect(batches[0]?.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name)).toEqual([
      'up',
      'rpc.duration',
      'rpc.duration.sum',
      'rpc.duration.count',
    ]);
    const again = decodeBatches(encodeExportRequest(batches));
    expect(again).toHaveLength(2);
    expect(again.map((b) => b.resource.attributes)).toEqual([{ 'host.name': 'n1' }, { 'host.name': 'n1' }]);
    expect(
      again.map((b) => b.scopeMetrics.map((sm) => [sm.scope, sm.metrics.map((m) => m.descriptor.name)])),
    ).toEqual([
      [[{ name: 's', version: '2' }, ['up']]],
      [[{ name: 's', version: '2' }, ['rpc.duration', 'rpc.duration.sum', 'rpc.duration.count']]],
    ]);
    expect(again[1]?.scopeMetrics[0]?.metrics.map((m) => m.dataPoints.map((p) => p.value))).toEqual([
      [0.4],
      [1.5],
      [3],
    ]);
  });

  it('rejects invalid points and keeps the valid ones (partial success)', () => {
    const bytes = encode({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'no.temporality',
                  sum: {
                    dataPoints: [
                      { asInt: 1, timeUnixNano: time },
                      { asInt: 2, timeUnixNano: time },
                    ],
                  },
                },
                {
                  name: 'no.value',
                  gauge: { dataPoints: [{ timeUnixNano: time }, { asDouble: 2.5, timeUnixNano: time }] },
                },
                { name: 'stale', gauge: { dataPoints: [{ timeUnixNano: time, flags: 1 }] } },
                {
                  name: 'bad.buckets',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [{ timeUnixNano: time, count: 1, bucketCounts: [1], explicitBounds: [1, 2] }],
                  },
                },
                { name: '', gauge: { dataPoints: [{ asInt: 1, timeUnixNano: time }] } },
              ],
            },
          ],
        },
      ],
    });
    const result = decodeMetricsRequest(bytes);
    expect(result.points).toBe(1);
    expect(result.rejected).toBe(5);
    expect(result.noRecordedValue).toBe(1);
    expect(result.errors).toEqual([
      'metric "no.temporality": sum with unspecified aggregation_temporality',
      'metric "no.value": a number data point has no value',
      'metric "bad.buckets": histogram bucket_counts must have one more entry than explicit_bounds',
      'a metric has no name',
    ]);
  });

  it('keeps exemplars, and list, map and bytes attribute values', () => {
    const bytes = encode({
      resourceMetrics: [
        {
          resource: {
            attributes: [
              {
                key: 'k8s.pod.labels',
                value: { kvlistValue: { values: [{ key: 'app', value: { stringValue: 'db' } }] } },
              },
            ],
          },
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'm',
                  gauge: {
                    dataPoints: [
                      {
                        asInt: 5,
                        timeUnixNano: time,
                        attributes: [
                          { key: 'raw', value: { bytesValue: Buffer.from('hi') } },
                          {
                            key: 'mixed',
                            value: { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'x' }] } },
                          },
                          { key: 'empty' },
                        ],
                        exemplars: [{ asDouble: 1, timeUnixNano: time }],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const result = decodeMetricsRequest(bytes);
    expect(result.exemplarsDropped).toBe(0);
    const point = result.batches[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!;
    expect(exemplarsOf(point)).toEqual([
      {
        filteredAttributes: {},
        value: 1,
        valueType: ValueType.DOUBLE,
        timestamp: bitsToHrTime(time.low, time.high),
      },
    ]);
    // The SDK's Resource keeps simple values only: a key-value list is kept as JSON.
    expect(result.batches[0]!.resource.attributes).toEqual({ 'k8s.pod.labels': '{"app":"db"}' });
    // Point attributes keep their shape, and go back out as they came.
    const attributes = result.batches[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.attributes;
    expect(attributes).toEqual({ raw: new Uint8Array(Buffer.from('hi')), mixed: [1, 'x'] });
    const again = decodeMetricsRequest(encodeExportRequest(result.batches));
    expect(again.batches[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.attributes).toEqual(attributes);
  });

  it('parses OTLP/JSON with string 64-bit integers and integer enums', () => {
    const text = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'n1' } }] },
          scopeMetrics: [
            {
              scope: { name: 's' },
              metrics: [
                {
                  name: 'c',
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        asInt: '9007199254740991',
                        startTimeUnixNano: '1700000000000000001',
                        timeUnixNano: '1700000001999999999',
                      },
                    ],
                  },
                  unknownField: 1,
                },
              ],
            },
          ],
        },
      ],
    });
    const result = decodeMetricsRequestJson(text);
    const metric = result.batches[0]!.scopeMetrics[0]!.metrics[0]!;
    expect(metric.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(metric.dataPoints[0]!.value).toBe(9007199254740991);
    expect(metric.dataPoints[0]!.startTime).toEqual([1_700_000_000, 1]);
    expect(metric.dataPoints[0]!.endTime).toEqual([1_700_000_001, 999_999_999]);
  });

  it('throws an OtlpDecodeError on malformed bytes, and decodes an empty request', () => {
    expect(() => decodeMetricsRequest(Buffer.from('this is not protobuf at all, just text'))).toThrow(
      OtlpDecodeError,
    );
    expect(decodeMetricsRequest(encodeExportRequest([])).batches).toEqual([]);
  });
});
