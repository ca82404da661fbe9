import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../errors.ts';
import { exemplarsOf } from '../exemplars.ts';
import type { DecodedRequest } from './decode.ts';
import { AttributeCache, decodeMetricsRequest, decodeMetricsRequestJson } from './decode.ts';
import { encodeExportRequest } from './encode.ts';
import { otlpTypes } from './proto.ts';
import {
  encodeRequest,
  everything,
  plainBatches,
  protobufjsOutcomes,
  requestJson,
  time,
} from './testdata/requests.ts';

/**
 * The OTLP decoder on a request holding every point kind, every attribute kind and every
 * rejection, in both encodings, against a golden result (written by the protobufjs-based
 * decoder this one replaced, and reviewed); on odd encodings (repeated, merged, unpacked and
 * unknown fields); and on every truncation and thousands of corruptions, where it must accept
 * exactly what protobufjs accepts and account for every point.
 */

const golden = JSON.parse(
  readFileSync(new URL('testdata/everything.golden.json', import.meta.url), 'utf8'),
) as {
  batches: unknown[];
  points: number;
  rejected: number;
  errors: string[];
  exemplarsDropped: number;
  noRecordedValue: number;
};

/** A decoded request as the golden file holds it. */
const plain = (result: DecodedRequest): unknown =>
  JSON.parse(JSON.stringify({ ...result, batches: plainBatches(result.batches) }));

const bytes = encodeRequest(everything);

/** A procfs-like batch through the encoder. */
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

/** camelCase keys → the .proto field names (OTLP/JSON receivers must accept both). */
function snakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCase);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        snakeCase(v),
      ]),
    );
  return value;
}

/** Decodes, or returns the error. */
function attempt(decode: () => DecodedRequest): DecodedRequest | Error {
  try {
    return decode();
  } catch (error) {
    return error as Error;
  }
}

/**
 * The decoder on `input` agrees with protobufjs: it rejects exactly what protobufjs rejects,
 * with an OtlpDecodeError, and otherwise accounts for every point protobufjs sees.
 */
function expectAgreement(input: Uint8Array, cache?: AttributeCache): void {
  const outcomes = protobufjsOutcomes(input);
  const result = attempt(() => decodeMetricsRequest(input, cache === undefined ? {} : { attributes: cache }));
  if (result instanceof Error) {
    expect(result).toBeInstanceOf(OtlpDecodeError);
    expect(outcomes).toBeUndefined();
  } else {
    expect(outcomes).toBeDefined();
    expect(result.points + result.rejected + result.noRecordedValue).toBe(outcomes);
  }
}

describe('OTLP decoder', () => {
  it('decodes every point kind, attribute kind and rejection as the golden result has them', () => {
    expect(golden.points).toBe(18);
    expect(golden.rejected).toBe(8);
    expect(golden.noRecordedValue).toBe(4);
    // Every exemplar of the request is on a converted point, and carried there.
    expect(golden.exemplarsDropped).toBe(0);
    expect(golden.errors).toHaveLength(6);
    expect(plain(decodeMetricsRequest(bytes))).toEqual(golden);
    expect(
      plain(decodeMetricsRequest(bytes, { attributes: new AttributeCache(), resources: new Map() })),
    ).toEqual(golden);
    const result = decodeMetricsRequest(bytes);
    const [first] = result.batches;
    // The SDK's Resource keeps simple values only: a key-value list and bytes are kept as JSON.
    expect(first?.resource.attributes).toEqual({
      'host.name': 'node-1',
      cores: 8,
      labels: '{"app":"db"}',
      tags: ['a', 'b'],
      on: true,
      ratio: 0.5,
      id: '"AQL/"',
    });
    const metrics = first?.scopeMetrics[0]?.metrics ?? [];
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    expect(byName.get('gauge.double')?.dataPoints[0]?.attributes).toEqual({
      up: false,
      nested: { list: [true, 1.5], n: 3, none: null },
    });
    const sumInt = byName.get('sum.int');
    expect(sumInt?.descriptor.valueType).toBe(ValueType.INT);
    expect(byName.get('sum.double')?.dataPoints.map((p) => exemplarsOf(p))).toEqual([
      [
        {
          filteredAttributes: { t: 'u' },
          value: 1,
          valueType: ValueType.DOUBLE,
          timestamp: [1, 0],
          traceId: '5b8efff798038103d269b633813fc60c',
          spanId: 'eee19b7ec3c1b174',
        },
      ],
      [],
    ]);
    expect(sumInt?.dataPoints[0]?.value).toBe(9_007_199_254_740_991);
    expect(sumInt?.dataPoints[0]?.startTime).toEqual([1, 0]);
    // 2^32 + 2e9 ns.
    expect(sumInt?.dataPoints[0]?.endTime).toEqual([6, 294_967_296]);
    expect(byName.get('sum.double')?.dataPoints[0]?.attributes).toEqual({
      raw: new Uint8Array(Buffer.from('hi')),
      mixed: [1, 'x', null],
      d: 0.25,
      neg: -(2 ** 40),
    });
    expect(byName.get('exp')?.dataPoints[0]?.value).toEqual({
      count: 4,
      sum: 10,
      scale: -2,
      zeroCount: 1,
      positive: { offset: -3, bucketCounts: [1, 2] },
      negative: { offset: 4, bucketCounts: [1] },
      min: -1,
      max: 5,
    });
    expect(
      metrics.filter((m) => m.descriptor.name.startsWith('summary')).map((m) => m.descriptor.name),
    ).toEqual(['summary', 'summary.sum', 'summary.count']);
  });

  it('decodes OTLP/JSON onto the same result: camelCase or proto names, hex ids, 64-bit integers as strings', () => {
    const json = requestJson(everything);
    // The fixture's JSON has what OTLP/JSON has.
    expect(json).toContain('"traceId":"5b8efff798038103d269b633813fc60c"');
    expect(json).toContain('"asInt":"9007199254740991"');
    expect(plain(decodeMetricsRequestJson(json))).toEqual(golden);
    expect(plain(decodeMetricsRequestJson(JSON.stringify(snakeCase(JSON.parse(json)))))).toEqual(golden);
    // Enum names, numbers for 64-bit integers and unknown fields.
    const named = decodeMetricsRequestJson(
      JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'c',
                    future: { field: 1 },
                    sum: {
                      aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
                      isMonotonic: true,
                      dataPoints: [{ asInt: 12, timeUnixNano: 1_700_000_000_000 }],
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const metric = named.batches[0]?.scopeMetrics[0]?.metrics[0];
    expect(metric?.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(metric?.dataPoints[0]?.value).toBe(12);
    expect(metric?.dataPoints[0]?.endTime).toEqual([1700, 0]);
  });

  it('rejects malformed OTLP/JSON with an error naming the field', () => {
    const reject = (text: string): OtlpDecodeError => {
      const result = attempt(() => decodeMetricsRequestJson(text));
      expect(result).toBeInstanceOf(OtlpDecodeError);
      return result as OtlpDecodeError;
    };
    expect(reject('{"resourceMetrics":').message).toMatch(/^ExportMetricsServiceRequest: not JSON: /);
    expect(reject('[1]').message).toBe('ExportMetricsServiceRequest: expected a JSON object');
    const metric = (m: object): string =>
      JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [m] }] }] });
    expect(reject(metric({ name: 5 })).message).toBe('Metric.name: expected string: 5');
    expect(reject(metric({ name: 'x', gauge: { dataPoints: [{ asInt: 'abc' }] } })).field).toBe(
      'NumberDataPoint.asInt',
    );
    const badId = reject(
      metric({ name: 'x', gauge: { dataPoints: [{ asInt: '1', exemplars: [{ spanId: 'xyz' }] }] } }),
    );
    expect(badId.field).toBe(
      'ExportMetricsServiceRequest.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].spanId',
    );
    expect(badId.offset).toBe(-1);
    expect(badId.code).toBe('ERR_OTLP_DECODE');
  });

  it('rejects malformed protobuf with an error naming the message, field and byte offset', () => {
    const truncated = attempt(() => decodeMetricsRequest(bytes.subarray(0, 200)));
    expect(truncated).toBeInstanceOf(OtlpDecodeError);
    expect((truncated as OtlpDecodeError).message).toBe(
      'ExportMetricsServiceRequest.resource_metrics at byte 3: truncated: a field runs past the end of its message',
    );
    // Invalid UTF-8 in a metric's name.
    const name = Buffer.from(
      encodeRequest({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'ab' }] }] }] }),
    );
    const at = name.indexOf(Buffer.from('ab'));
    name[at] = 0xc3;
    name[at + 1] = 0x28;
    const utf8 = attempt(() => decodeMetricsRequest(name));
    expect(utf8).toBeInstanceOf(OtlpDecodeError);
    expect((utf8 as OtlpDecodeError).field).toBe(
      'ExportMetricsServiceRequest/ResourceMetrics/ScopeMetrics/Metric.name',
    );
    expect((utf8 as OtlpDecodeError).offset).toBe(at);
    expect((utf8 as OtlpDecodeError).message).toMatch(/: invalid UTF-8 in a string$/);
    const text = attempt(() => decodeMetricsRequest(Buffer.from('this is not protobuf at all, just text')));
    expect((text as OtlpDecodeError).message).toBe(
      'ExportMetricsServiceRequest.field 14 at byte 1: invalid wire type 4',
    );
  });

  it('shares one frozen attributes object between points with the same attribute bytes', () => {
    const cache = new AttributeCache();
    const agent = encodeExportRequest([agentBatch()]);
    const first = decodeMetricsRequest(agent, { attributes: cache });
    const second = decodeMetricsRequest(agent, { attributes: cache });
    const a = first.batches[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[1]?.attributes;
    const b = second.batches[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[1]?.attributes;
    expect(a).toEqual({ cpu: '0', 'cpu.mode': 'system' });
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(cache.size).toBe(3);
    // Values that are objects are not shared (they could be changed in place).
    const cached = decodeMetricsRequest(bytes, { attributes: cache });
    const withBytes = cached.batches[0]?.scopeMetrics[0]?.metrics.find(
      (m) => m.descriptor.name === 'sum.double',
    )?.dataPoints[0]?.attributes;
    expect(withBytes?.raw).toBeInstanceOf(Uint8Array);
    expect(Object.isFrozen(withBytes)).toBe(false);
  });

  it('handles repeated and merged fields, unpacked repeated fields and unknown fields as protobufjs does', () => {
    const base = Buffer.from(bytes);
    // Unknown fields of every wire type at the top level, and the request twice over (merge).
    const unknown = Buffer.from([
      0x10, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 0x01, 0xff,
    ]);
    expect(plain(decodeMetricsRequest(Buffer.concat([unknown, base, unknown, base])))).toEqual({
      ...golden,
      batches: [...golden.batches, ...golden.batches],
      points: 2 * golden.points,
      rejected: 2 * golden.rejected,
      exemplarsDropped: 2 * golden.exemplarsDropped,
      noRecordedValue: 2 * golden.noRecordedValue,
    });
    // A group (wire type 3) with its end tag, skipped.
    expect(plain(decodeMetricsRequest(Buffer.concat([Buffer.from([0x13, 0x08, 0x01, 0x14]), base])))).toEqual(
      golden,
    );
    // Unpacked bucket counts and bounds.
    const histogram = Buffer.from(
      encodeRequest({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'h',
                    histogram: {
                      aggregationTemporality: 2,
                      dataPoints: [
                        { count: 2, bucketCounts: [1, 1], explicitBounds: [3], timeUnixNano: time },
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
    for (const input of [histogram, rewritten]) {
      const point = decodeMetricsRequest(input).batches[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[0];
      expect(point?.value).toEqual({ count: 2, buckets: { boundaries: [3], counts: [1, 1] } });
      expect(point?.endTime).toEqual([1, 0]);
    }
  });

  it('accepts what protobufjs accepts on every truncation and on corrupted bytes, and accounts for every point', () => {
    const agent = encodeExportRequest([agentBatch(), agentBatch()]);
    for (const input of [bytes, agent]) {
      for (let end = 0; end <= input.length; end++) expectAgreement(input.subarray(0, end));
    }
    // Deterministic corruptions: one byte changed at a time, to a few values.
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cache = new AttributeCache();
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const corrupted = Buffer.from(bytes);
      const at = Math.floor(random() * corrupted.length);
      corrupted[at] = [0x00, 0x80, 0xff, 0x07, 0x0a, Math.floor(random() * 256)][i % 6] ?? 0;
      expectAgreement(corrupted, i % 2 === 0 ? cache : undefined);
      if (protobufjsOutcomes(corrupted) !== undefined) accepted += 1;
    }
    // Both kinds of outcome were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
    expect(otlpTypes.ExportMetricsServiceRequest).toBeDefined();
  });
});
