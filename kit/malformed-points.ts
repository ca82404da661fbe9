import type { HrTime } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * Finds the points of a batch that do not have the shape their metric's type promises (a
 * histogram point whose value is a number, a number point whose value is an object, bucket
 * counts that do not match the bounds, a time that is not an HrTime), so that an exporter
 * can write every other point of the batch and count and log these. Points are passed
 * between components as the SDK's types, but a processor or receiver with a bug can still
 * hand on anything; one such point must not cost a whole batch.
 */

function isHrTime(time: unknown): time is HrTime {
  return Array.isArray(time) && time.length === 2 && Number.isFinite(time[0]) && Number.isFinite(time[1]);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number');
}

/** What is wrong with a point of `metric`, or undefined when it has the right shape. */
export function pointProblem(metric: MetricData, point: DataPoint<unknown>): string | undefined {
  if (!isHrTime(point.startTime) || !isHrTime(point.endTime)) return 'its start or end time is not an HrTime';
  if (typeof point.attributes !== 'object') return 'its attributes are not an object';
  const value: unknown = point.value;
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
    case DataPointType.SUM:
      return typeof value === 'number' ? undefined : `a ${typeof value} where a number was expected`;
    case DataPointType.HISTOGRAM: {
      if (typeof value !== 'object' || value === null) return `a histogram whose value is a ${typeof value}`;
      const h = value as { buckets?: { boundaries?: unknown; counts?: unknown }; count?: unknown };
      const boundaries = h.buckets?.boundaries;
      const counts = h.buckets?.counts;
      if (!isNumberArray(boundaries) || !isNumberArray(counts))
        return 'a histogram without bucket bounds and counts';
      if (counts.length !== boundaries.length + 1)
        return `a histogram with ${String(counts.length)} bucket counts for ${String(boundaries.length)} bounds`;
      return typeof h.count === 'number' ? undefined : 'a histogram without a count';
    }
    case DataPointType.EXPONENTIAL_HISTOGRAM: {
      if (typeof value !== 'object' || value === null)
        return `an exponential histogram whose value is a ${typeof value}`;
      const h = value as {
        count?: unknown;
        positive?: { bucketCounts?: unknown };
        negative?: { bucketCounts?: unknown };
      };
      if (
        typeof h.count !== 'number' ||
        !isNumberArray(h.positive?.bucketCounts) ||
        !isNumberArray(h.negative?.bucketCounts)
      )
        return 'an exponential histogram without a count and buckets';
      return undefined;
    }
  }
}

/** The well-formed part of a batch and what was left out. */
export interface CheckedBatch {
  /** The batch itself when every point is well formed, else a copy without the others. */
  readonly batch: ResourceMetrics;
  /** How many points were left out. */
  readonly malformed: number;
  /** The first of them, described (`metric x: a number where …`). */
  readonly first: string | undefined;
}

/** The batch without its malformed points (the same object when there are none: the common case costs one pass). */
export function withoutMalformedPoints(batch: ResourceMetrics): CheckedBatch {
  let malformed = 0;
  let first: string | undefined;
  for (const scope of batch.scopeMetrics)
    for (const metric of scope.metrics)
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        const problem = pointProblem(metric, point);
        if (problem === undefined) continue;
        malformed += 1;
        first ??= `metric ${metric.descriptor.name}: ${problem}`;
      }
  if (malformed === 0) return { batch, malformed, first };
  const scopeMetrics = batch.scopeMetrics.map((scope) => ({
    ...scope,
    metrics: scope.metrics
      .map(
        (metric) =>
          ({
            ...metric,
            dataPoints: (metric.dataPoints as DataPoint<unknown>[]).filter(
              (p) => pointProblem(metric, p) === undefined,
            ),
          }) as MetricData,
      )
      .filter((metric) => metric.dataPoints.length > 0),
  }));
  return { batch: { ...batch, scopeMetrics }, malformed, first };
}

/** Where an exporter counts and logs the points it leaves out. */
export interface MalformedPointSink {
  readonly telemetry: { dropped(points: number, reason: string): void };
  readonly errors: { report(key: string, error: unknown): void };
}

/**
 * The batch an exporter writes: `batch` without its malformed points, which are counted as
 * dropped (`reason: malformed_point`) and logged (once while they keep coming).
 */
export function keepWellFormedPoints(batch: ResourceMetrics, sink: MalformedPointSink): ResourceMetrics {
  const checked = withoutMalformedPoints(batch);
  if (checked.malformed > 0) {
    sink.telemetry.dropped(checked.malformed, 'malformed_point');
    sink.errors.report(
      'malformed_point',
      new Error(
        `${String(checked.malformed)} malformed points left out of a batch, the first: ${checked.first ?? ''}`,
      ),
    );
  }
  return checked.batch;
}
