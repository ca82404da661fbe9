import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { int64Of, withInt64 } from '../../kit/int64.ts';
import { CumulativeToDelta } from './delta.ts';

const START: HrTime = [100, 0];

function sum(
  points: { attrs?: Record<string, string>; value: number; end: number; start?: HrTime }[],
  monotonic = true,
): MetricData {
  return {
    descriptor: { name: 'system.cpu.time', description: '', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: monotonic,
    dataPoints: points.map((p) => ({
      startTime: p.start ?? START,
      endTime: [p.end, 0],
      attributes: p.attrs ?? { 'cpu.mode': 'user' },
      value: p.value,
    })),
  };
}

function histogram(
  counts: number[],
  total: number,
  s: number,
  end: number,
  boundaries = [1, 10],
): MetricData {
  return {
    descriptor: { name: 'h', description: '', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        startTime: START,
        endTime: [end, 0],
        attributes: {},
        value: { buckets: { boundaries, counts }, count: total, sum: s, min: 0.5, max: 20 },
      },
    ],
  };
}

function batch(...metrics: MetricData[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'a' }),
    scopeMetrics: [{ scope: { name: 'procfs' }, metrics }],
  };
}

function points(result: ResourceMetrics): DataPoint<unknown>[] {
  return result.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints as DataPoint<unknown>[]));
}

describe('cumulative to delta', () => {
  it('holds back the first point of a series, then sends increases over consecutive intervals', () => {
    const delta = new CumulativeToDelta();
    const first = delta.convert(batch(sum([{ value: 1000, end: 110 }])));
    expect(first.report.initial).toBe(1);
    expect(first.batch.scopeMetrics).toEqual([]);
    const second = delta.convert(batch(sum([{ value: 1004.5, end: 111 }])));
    expect(second.report.initial).toBe(0);
    const metric = second.batch.scopeMetrics[0]!.metrics[0]!;
    expect(metric.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(metric.dataPoints).toEqual([
      { startTime: [110, 0], endTime: [111, 0], attributes: { 'cpu.mode': 'user' }, value: 4.5 },
    ]);
    const third = delta.convert(batch(sum([{ value: 1005, end: 112 }])));
    expect(points(third.batch)).toEqual([
      { startTime: [111, 0], endTime: [112, 0], attributes: { 'cpu.mode': 'user' }, value: 0.5 },
    ]);
  });

  it('keeps series apart by attributes (in any key order) and by resource', () => {
    const delta = new CumulativeToDelta();
    delta.convert(
      batch(
        sum([
          { attrs: { a: '1', b: '2' }, value: 10, end: 1 },
          { attrs: { a: '2', b: '2' }, value: 50, end: 1 },
        ]),
      ),
    );
    const next = delta.convert(
      batch(
        sum([
          { attrs: { b: '2', a: '1' }, value: 15, end: 2 },
          { attrs: { a: '2', b: '2' }, value: 51, end: 2 },
        ]),
      ),
    );
    expect(points(next.batch).map((p) => p.value)).toEqual([5, 1]);
    const other: ResourceMetrics = {
      ...batch(sum([{ attrs: { a: '1', b: '2' }, value: 99, end: 3 }])),
      resource: resourceFromAttributes({ 'host.name': 'b' }),
    };
    expect(delta.convert(other).report.initial).toBe(1);
    expect(delta.size).toBe(3);
  });

  it('sends the whole value after a reset', () => {
    const delta = new CumulativeToDelta();
    delta.convert(batch(sum([{ value: 500, end: 110 }])));
    const dropped = delta.convert(batch(sum([{ value: 3, end: 111 }])));
    expect(points(dropped.batch)).toEqual([
      { startTime: [110, 0], endTime: [111, 0], attributes: { 'cpu.mode': 'user' }, value: 3 },
    ]);
    const restarted = delta.convert(batch(sum([{ value: 7, end: 120, start: [115, 0] }])));
    expect(points(restarted.batch)).toEqual([
      { startTime: [115, 0], endTime: [120, 0], attributes: { 'cpu.mode': 'user' }, value: 7 },
    ]);
  });

  it('subtracts integers beyond 2^53 exactly (kit/int64.ts), and sees a decrease the doubles hide as a reset', () => {
    const delta = new CumulativeToDelta();
    const exact = (value: bigint, end: number): ResourceMetrics => {
      const metric = sum([{ value: Number(value), end }]);
      return batch({
        ...metric,
        dataPoints: (metric.dataPoints as DataPoint<number>[]).map((p) => withInt64(p, value)),
      } as MetricData);
    };
    const base = 2n ** 60n;
    delta.convert(exact(base, 110));
    // base + 1 and base are one double: only the exact values tell the increase of 1.
    const one = points(delta.convert(exact(base + 1n, 111)).batch) as DataPoint<number>[];
    expect(one.map((p) => [p.value, int64Of(p)])).toEqual([[1, undefined]]);
    const big = points(delta.convert(exact(base + 1n + 2n ** 55n + 3n, 112)).batch) as DataPoint<number>[];
    expect(big.map((p) => int64Of(p))).toEqual([2n ** 55n + 3n]);
    // A decrease of 1 that the doubles cannot see is a reset: the whole value is sent.
    const reset = points(delta.convert(exact(base + 2n ** 55n + 3n, 113)).batch) as DataPoint<number>[];
    expect(reset.map((p) => [p.startTime, int64Of(p)])).toEqual([[[112, 0], base + 2n ** 55n + 3n]]);
  });

  it('leaves non-monotonic sums and gauges cumulative', () => {
    const delta = new CumulativeToDelta();
    const upDown = sum([{ value: 5, end: 1 }], false);
    expect(delta.convert(batch(upDown)).batch.scopeMetrics[0]!.metrics[0]).toBe(upDown);
  });

  it('subtracts histograms bucket by bucket and leaves min and max out', () => {
    const delta = new CumulativeToDelta();
    delta.convert(batch(histogram([1, 2, 3], 6, 40, 1)));
    const next = delta.convert(batch(histogram([2, 2, 5], 9, 70, 2)));
    const point = points(next.batch)[0] as DataPoint<Histogram>;
    expect(point.value).toEqual({ buckets: { boundaries: [1, 10], counts: [1, 0, 2] }, count: 3, sum: 30 });
    expect(point.startTime).toEqual([1, 0]);
    const rebucketed = delta.convert(batch(histogram([1, 1], 2, 3, 3, [5])));
    expect((points(rebucketed.batch)[0] as DataPoint<Histogram>).value).toEqual({
      buckets: { boundaries: [5], counts: [1, 1] },
      count: 2,
      sum: 3,
    });
  });

  it('forgets series not seen for the time to live', () => {
    let now = 0;
    const delta = new CumulativeToDelta({ ttlMs: 1000, now: () => now });
    delta.convert(batch(sum([{ value: 1, end: 1 }])));
    now = 70_000;
    expect(delta.convert(batch(sum([{ attrs: { x: 'y' }, value: 1, end: 2 }]))).report.initial).toBe(1);
    expect(delta.size).toBe(1);
  });
});
