import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { DecodedRequest } from './decode.ts';
import { decodeExportRequest, toResourceMetrics } from './decode.ts';
import { encodeExportRequest } from './encode.ts';
import { otlpTypes } from './proto.ts';
import { AttributeCache, decodeMetricsRequest } from './wire-decode.ts';

/**
 * The wire decoder against the reference path (protobufjs's decoding, then the conversion of
 * its message objects): the same result, or both throwing, for valid requests of every kind,
 * requests with odd encodings, every truncation and many corruptions of them.
 */

const encode = (request: object): Uint8Array =>
  otlpTypes.ExportMetricsServiceRequest.encode(
    otlpTypes.ExportMetricsServiceRequest.fromObject(request),
  ).finish();

const time = { low: 1_000_000_000, high: 0 };
const later = { low: 2_000_000_000, high: 1 };
const kv = (key: string, value: object) => ({ key, value });

/** A request with every point kind, every attribute value type and every rejection. */
const everything = encode({
  resourceMetrics: [
    {
      resource: {
        attributes: [
          kv('host.name', { stringValue: 'node-1' }),
          kv('cores', { intValue: 8 }),
          kv('labels', { kvlistValue: { values: [kv('app', { stringValue: 'db' })] } }),
          kv('tags', { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }),
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
                      },
                    ],
                  },
                  { asInt: 3, timeUnixNano: later, flags: 0 },
                ],
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
});

/** A procfs-like batch through our own encoder. */
function agentBatch(): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'n', 'service.name': 'inframeter' }),
    scopeMetrics: [
      {
        scope: { name: 'procfs', version: '0.1.0' },
        metrics: [
          {
            descriptor: { name: 'system.cpu.time', description: '', unit: 's', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: ['user', 'system', 'idle'].map((mode, i) => ({
              startTime: [1_700_000_000, 5],
              endTime: [1_700_000_060, 123_456_789],
              attributes: { cpu: '0', 'cpu.mode': mode },
              value: 10.5 * i,
            })),
          },
        ],
      },
    ],
  };
}

type Outcome = { ok: true; value: DecodedRequest } | { ok: false };

function reference(bytes: Uint8Array): Outcome {
  try {
    return { ok: true, value: toResourceMetrics(decodeExportRequest(bytes)) };
  } catch {
    return { ok: false };
  }
}

function wire(bytes: Uint8Array, cache?: AttributeCache): Outcome {
  try {
    return { ok: true, value: decodeMetricsRequest(bytes, cache === undefined ? {} : { attributes: cache }) };
  } catch {
    return { ok: false };
  }
}

function expectSame(bytes: Uint8Array, cache?: AttributeCache): void {
  expect(wire(bytes, cache)).toEqual(reference(bytes));
}

describe('wire decoder', () => {
  it('gives what protobufjs and the conversion give, for every point kind and rejection', () => {
    const expected = reference(everything);
    expect(expected.ok).toBe(true);
    if (expected.ok) {
      // The fixture exercises what it should.
      expect(expected.value.rejected).toBe(8);
      expect(expected.value.noRecordedValue).toBe(4);
      expect(expected.value.exemplarsDropped).toBe(3);
      expect(expected.value.errors).toHaveLength(6);
    }
    expectSame(everything);
    expectSame(everything, new AttributeCache());
    expectSame(encodeExportRequest([agentBatch(), agentBatch()]));
    expectSame(encodeExportRequest([]));
  });

  it('shares one frozen attributes object between points with the same attribute bytes', () => {
    const cache = new AttributeCache();
    const bytes = encodeExportRequest([agentBatch()]);
    const first = decodeMetricsRequest(bytes, { attributes: cache });
    const second = decodeMetricsRequest(bytes, { attributes: cache });
    const a = first.batches[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[1]?.attributes;
    const b = second.batches[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[1]?.attributes;
    expect(a).toEqual({ cpu: '0', 'cpu.mode': 'system' });
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(cache.size).toBe(3);
    // Values that are objects are not shared (they could be changed in place).
    const cached = decodeMetricsRequest(everything, { attributes: cache });
    const withBytes = cached.batches[0]?.scopeMetrics[0]?.metrics[1]?.dataPoints[0]?.attributes;
    expect(Object.isFrozen(withBytes)).toBe(false);
  });

  it('handles repeated and merged fields, unpacked repeated fields and unknown fields as protobufjs does', () => {
    const w = otlpTypes.ExportMetricsServiceRequest;
    const base = Buffer.from(everything);
    // Unknown fields of every wire type at the top level, and the request twice over (merge).
    const unknown = Buffer.from([
      0x10, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 0x01, 0xff,
    ]);
    expectSame(Buffer.concat([unknown, base, unknown, base]));
    // A group (wire type 3) with its end tag, skipped.
    expectSame(Buffer.concat([Buffer.from([0x13, 0x08, 0x01, 0x14]), base]));
    // Unpacked bucket counts and bounds.
    const histogram = Buffer.from(
      w
        .encode(
          w.fromObject({
            resourceMetrics: [
              {
                scopeMetrics: [
                  {
                    metrics: [
                      {
                        name: 'h',
                        histogram: {
                          aggregationTemporality: 2,
                          dataPoints: [{ count: 2, bucketCounts: [1, 1], explicitBounds: [3] }],
                        },
                      },
                    ],
                  },
                ],
              },
            ],
          }),
        )
        .finish(),
    );
    expectSame(histogram);
    // The same message with its packed fields rewritten one element per tag.
    const packedCounts = Buffer.from([0x32, 16, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    const unpackedCounts = Buffer.from([0x31, 1, 0, 0, 0, 0, 0, 0, 0, 0x31, 1, 0, 0, 0, 0, 0, 0, 0]);
    const index = histogram.indexOf(packedCounts);
    expect(index).toBeGreaterThan(0);
    // Same length, so the enclosing lengths still hold.
    const rewritten = Buffer.concat([
      histogram.subarray(0, index),
      unpackedCounts,
      histogram.subarray(index + packedCounts.length),
    ]);
    const out = wire(rewritten);
    expect(out).toEqual(reference(rewritten));
    expect(out.ok && out.value.points).toBe(1);
  });

  it('throws where protobufjs throws, and agrees on every truncation and on corrupted bytes', () => {
    for (const bytes of [everything, encodeExportRequest([agentBatch()])]) {
      for (let end = 0; end < bytes.length; end++) expectSame(bytes.subarray(0, end));
    }
    // Deterministic corruptions: one byte changed at a time, to a few values.
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cache = new AttributeCache();
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(everything);
      const at = Math.floor(random() * bytes.length);
      bytes[at] = [0x00, 0x80, 0xff, 0x07, 0x0a, Math.floor(random() * 256)][i % 6] ?? 0;
      expectSame(bytes, i % 2 === 0 ? cache : undefined);
    }
    expect(() => decodeMetricsRequest(Buffer.from('this is not protobuf at all, just text'))).toThrow();
    // Invalid UTF-8 in a string, as protobufjs's strict decoding.
    const name = Buffer.from(
      encode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'ab' }] }] }] }),
    );
    const at = name.indexOf(Buffer.from('ab'));
    name[at] = 0xc3;
    name[at + 1] = 0x28;
    expect(reference(name).ok).toBe(false);
    expect(wire(name).ok).toBe(false);
  });
});
