import { ValueType } from '@opentelemetry/api';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { exemplarsOf } from '../exemplars.ts';
import { int64Of } from '../int64.ts';
import { decodeMetricsRequest, decodeMetricsRequestJson } from './decode.ts';
import { encodeExportRequest } from './encode.ts';
import { otlpTypes } from './proto.ts';

/**
 * `as_int` values at and beyond the safe range of a double, through the protobuf and JSON
 * decoders and back out through the encoder: each comes out as the same signed 64-bit integer.
 */

const SAFE = 2n ** 53n;
const VALUES: readonly bigint[] = [
  0n,
  -1n,
  SAFE - 1n,
  SAFE,
  SAFE + 1n,
  -(SAFE - 1n),
  -SAFE,
  -(SAFE + 1n),
  2n ** 62n + 1n,
  -(2n ** 63n),
  2n ** 63n - 1n,
];
const TIME = '1700000000123456789';
const START = '1699999000000000001';

/** A request with one integer gauge whose points hold `VALUES`, the last one with an exemplar of each. */
function requestObject(asInt: (v: bigint) => unknown): Record<string, unknown> {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'int64' } }] },
        scopeMetrics: [
          {
            scope: { name: 'int64-test' },
            metrics: [
              {
                name: 'big.counter',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: VALUES.map((v, i) => ({
                    attributes: [{ key: 'i', value: { intValue: i } }],
                    startTimeUnixNano: START,
                    timeUnixNano: TIME,
                    asInt: asInt(v),
                    ...(i === VALUES.length - 1
                      ? { exemplars: VALUES.map((e) => ({ asInt: asInt(e), timeUnixNano: TIME })) }
                      : {}),
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

function protobufRequest(): Uint8Array {
  const type = otlpTypes.ExportMetricsServiceRequest;
  return type.encode(type.fromObject(requestObject((v) => v.toString()))).finish();
}

function jsonRequest(): string {
  return JSON.stringify(requestObject((v) => v.toString()));
}

function onlyMetric(batches: readonly ResourceMetrics[]): MetricData {
  const metrics = batches.flatMap((b) => b.scopeMetrics.flatMap((s) => s.metrics));
  expect(metrics).toHaveLength(1);
  return metrics[0]!;
}

/** What the decoder made of `VALUES`: each point's double and its exact integer. */
function expectExact(metric: MetricData): void {
  expect(metric.descriptor.valueType).toBe(ValueType.INT);
  const points = metric.dataPoints as DataPoint<number>[];
  expect(points).toHaveLength(VALUES.length);
  points.forEach((point, i) => {
    const v = VALUES[i]!;
    expect(point.value).toBe(Number(v));
    const safe = Number.isSafeInteger(Number(v));
    // A safe integer carries nothing beside its number.
    expect('int64' in point).toBe(!safe);
    expect(int64Of(point)).toBe(safe ? undefined : v);
  });
  const exemplars = exemplarsOf(points.at(-1)!);
  expect(exemplars.map((e) => (int64Of(e) ?? BigInt(e.value)).toString())).toEqual(VALUES.map(String));
  for (const e of exemplars) expect(e.valueType).toBe(ValueType.INT);
}

/** The `as_int` values protobufjs reads in `bytes`, as decimal text, point by point and exemplar by exemplar. */
function asIntTexts(bytes: Uint8Array): { points: string[]; exemplars: string[] } {
  const request = otlpTypes.ExportMetricsServiceRequest.toObject(
    otlpTypes.ExportMetricsServiceRequest.decode(bytes),
    { longs: String },
  ) as {
    resourceMetrics: {
      scopeMetrics: {
        metrics: { sum?: { dataPoints: { asInt?: string; exemplars?: { asInt?: string }[] }[] } }[];
      }[];
    }[];
  };
  const points = request.resourceMetrics.flatMap((r) =>
    r.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.sum?.dataPoints ?? [])),
  );
  return {
    points: points.map((p) => p.asInt ?? 'none'),
    exemplars: points.flatMap((p) => (p.exemplars ?? []).map((e) => e.asInt ?? 'none')),
  };
}

describe('as_int beyond 2^53', () => {
  it('the protobuf decoder keeps every value of the int64 range exact', () => {
    const decoded = decodeMetricsRequest(protobufRequest());
    expect(decoded.rejected).toBe(0);
    expectExact(onlyMetric(decoded.batches));
  });

  it('the JSON decoder keeps every value exact when int64 come as strings, as OTLP/JSON has them', () => {
    const decoded = decodeMetricsRequestJson(jsonRequest());
    expect(decoded.rejected).toBe(0);
    expectExact(onlyMetric(decoded.batches));
  });

  it('a JSON number beyond 2^53 is read as the double JSON.parse makes of it', () => {
    const text = JSON.stringify(requestObject(() => 0)).replace(/"asInt":0/g, '"asInt":9007199254740993');
    const metric = onlyMetric(decodeMetricsRequestJson(text).batches);
    const point = (metric.dataPoints as DataPoint<number>[])[0]!;
    // 9007199254740993 is lost at parsing: what is carried is the integer the double holds.
    expect(point.value).toBe(2 ** 53);
    expect(int64Of(point)).toBe(2n ** 53n);
  });

  it('the encoder writes the exact integers back as sfixed64, points and exemplars', () => {
    const decoded = decodeMetricsRequest(protobufRequest());
    const bytes = encodeExportRequest(decoded.batches);
    const texts = asIntTexts(bytes);
    expect(texts.points).toEqual(VALUES.map(String));
    expect(texts.exemplars).toEqual(VALUES.map(String));
    // And read again, the same model.
    expectExact(onlyMetric(decodeMetricsRequest(bytes).batches));
  });

  it('an integer metric whose values are all safe still goes through the official serializer', () => {
    const decoded = decodeMetricsRequest(protobufRequest());
    const metric = onlyMetric(decoded.batches);
    const safe = (metric.dataPoints as DataPoint<number>[]).filter((p) => Number.isSafeInteger(p.value));
    const batch: ResourceMetrics = {
      resource: decoded.batches[0]!.resource,
      scopeMetrics: [
        {
          scope: decoded.batches[0]!.scopeMetrics[0]!.scope,
          metrics: [
            { ...metric, dataPoints: safe.map((p) => ({ ...p, exemplars: undefined })) } as MetricData,
          ],
        },
      ],
    };
    const bytes = encodeExportRequest([batch]);
    // The serializer's request only: one ResourceMetrics.
    const request = otlpTypes.ExportMetricsServiceRequest.decode(bytes) as unknown as {
      resourceMetrics: unknown[];
    };
    expect(request.resourceMetrics).toHaveLength(1);
    expect(asIntTexts(bytes).points).toEqual(
      VALUES.filter((v) => Number.isSafeInteger(Number(v))).map(String),
    );
  });

  it('an exact integer that no longer matches its point (a value scaled by a copy) is ignored', () => {
    const decoded = decodeMetricsRequest(protobufRequest());
    const metric = onlyMetric(decoded.batches);
    const points = (metric.dataPoints as DataPoint<number>[]).map((p) => ({ ...p, value: p.value * 2 }));
    for (const p of points) expect(int64Of(p)).toBeUndefined();
    const batch: ResourceMetrics = {
      resource: decoded.batches[0]!.resource,
      scopeMetrics: [{ scope: { name: 'x' }, metrics: [{ ...metric, dataPoints: points } as MetricData] }],
    };
    const written = asIntTexts(encodeExportRequest([batch])).points;
    // 2^53 + 1 read as 2^53, doubled: the double's value, not the stale integer's.
    expect(written[4]).toBe(String(2n ** 54n));
  });
});
