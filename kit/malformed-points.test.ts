import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { keepWellFormedPoints, pointProblem, withoutMalformedPoints } from './malformed-points.ts';

const T: [number, number] = [1_795_000_000, 0];
const histogram = (value: unknown): MetricData =>
  ({
    descriptor: { name: 'h', description: '', unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [{ startTime: T, endTime: T, attributes: {}, value }],
  }) as MetricData;
const gauge = (value: unknown): MetricData =>
  ({
    descriptor: { name: 'g', description: '', unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ startTime: T, endTime: T, attributes: {}, value }],
  }) as MetricData;
const batchOf = (metrics: MetricData[]): ResourceMetrics => ({
  resource: resourceFromAttributes({}),
  scopeMetrics: [{ scope: { name: 's' }, metrics }],
});

describe('malformed points', () => {
  it('says what is wrong with a point', () => {
    const p = (m: MetricData) => pointProblem(m, m.dataPoints[0]!);
    expect(p(gauge(1))).toBeUndefined();
    expect(p(gauge({}))).toBe('a object where a number was expected');
    expect(p(histogram(4))).toBe('a histogram whose value is a number');
    expect(p(histogram({ buckets: { boundaries: [1], counts: [1] }, count: 1 }))).toBe(
      'a histogram with 1 bucket counts for 1 bounds',
    );
    expect(p(histogram({ buckets: { boundaries: [1], counts: [1, 0] }, count: 1, sum: 2 }))).toBeUndefined();
  });

  it('hands the same batch on when every point is well formed', () => {
    const batch = batchOf([gauge(1)]);
    expect(withoutMalformedPoints(batch)).toEqual({ batch, malformed: 0, first: undefined });
    expect(withoutMalformedPoints(batch).batch).toBe(batch);
  });

  it('leaves out only the malformed points, counts and reports them', () => {
    const dropped: [number, string][] = [];
    const reports: string[] = [];
    const kept = keepWellFormedPoints(batchOf([gauge(1), histogram(Number.NaN), gauge('x')]), {
      telemetry: { dropped: (n, reason) => dropped.push([n, reason]) },
      errors: { report: (_key, error) => reports.push((error as Error).message) },
    });
    expect(kept.scopeMetrics[0]?.metrics.map((m) => [m.descriptor.name, m.dataPoints.length])).toEqual([
      ['g', 1],
    ]);
    expect(dropped).toEqual([[2, 'malformed_point']]);
    expect(reports).toEqual([
      '2 malformed points left out of a batch, the first: metric h: a histogram whose value is a number',
    ]);
  });
});
