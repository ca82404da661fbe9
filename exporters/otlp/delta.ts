import type { Attributes, HrTime } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { int64Of, withInt64 } from '../../kit/int64.ts';

/**
 * Cumulative → delta conversion for `temporality: delta`, per series (resource, scope,
 * metric name and point attributes), as the OpenTelemetry Collector's `cumulativetodelta`
 * processor does:
 *
 * - Monotonic cumulative sums: each point becomes the increase since the previous point of
 *   its series, over [previous end, this end].
 * - Cumulative histograms: bucket counts, count and sum become increases; min and max are
 *   left out (they cannot be derived from two cumulative points).
 * - The first point of a series only records the starting value and is not sent: a
 *   cumulative counter read from the system (CPU time since boot) holds more than what
 *   happened since its start time. Such points are counted (see `converted`).
 * - A reset (a value lower than the previous one, a later start time, other bucket bounds)
 *   sends the new cumulative value as the delta: the counter restarted from zero.
 * - Non-monotonic sums (up-down counters), gauges, exponential histograms and data that is
 *   already delta pass through unchanged (non-monotonic sums stay cumulative, as the SDK's
 *   delta preference also keeps them).
 *
 * Series not seen for `ttlMs` are forgotten, which bounds the memory to the series of that
 * window.
 */

interface SeriesState {
  start: HrTime;
  end: HrTime;
  value: number;
  /** The exact integer of a value beyond 2^53 (kit/int64.ts), when the point carried one. */
  exact?: bigint | undefined;
  histogram?: Histogram | undefined;
  seen: number;
}

function hrTimeAfter(a: HrTime, b: HrTime): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

function attributesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  let out = '';
  for (const key of keys) out += `${JSON.stringify(key)}=${JSON.stringify(attributes[key])};`;
  return out;
}

/** What one conversion did with the points it was given. */
export interface DeltaReport {
  /** First points of new series, kept as the base of the next delta. */
  readonly initial: number;
}

/** Per-series cumulative → delta state. */
export class CumulativeToDelta {
  readonly #series = new Map<string, SeriesState>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  #lastPrune = 0;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  /** Series currently tracked. */
  get size(): number {
    return this.#series.size;
  }

  /** Converts a batch; returns the new batch and how many first points were held back. */
  convert(batch: ResourceMetrics): { batch: ResourceMetrics; report: DeltaReport } {
    const now = this.#now();
    this.#prune(now);
    let initial = 0;
    const resourceKey = attributesKey(batch.resource.attributes);
    const scopeMetrics = batch.scopeMetrics.map((scope) => {
      const scopeKey = `${resourceKey}|${scope.scope.name}|${scope.scope.version ?? ''}`;
      const metrics: MetricData[] = [];
      for (const metric of scope.metrics) {
        if (metric.aggregationTemporality !== AggregationTemporality.CUMULATIVE) {
          metrics.push(metric);
          continue;
        }
        const metricKey = `${scopeKey}|${metric.descriptor.name}|`;
        if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic) {
          const dataPoints: DataPoint<number>[] = [];
          for (const point of metric.dataPoints) {
            const out = this.#sumPoint(`${metricKey}${attributesKey(point.attributes)}`, point, now);
            if (out === undefined) initial += 1;
            else dataPoints.push(out);
          }
          if (dataPoints.length > 0)
            metrics.push({ ...metric, aggregationTemporality: AggregationTemporality.DELTA, dataPoints });
        } else if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const dataPoints: DataPoint<Histogram>[] = [];
          for (const point of metric.dataPoints) {
            const out = this.#histogramPoint(`${metricKey}${attributesKey(point.attributes)}`, point, now);
            if (out === undefined) initial += 1;
            else dataPoints.push(out);
          }
          if (dataPoints.length > 0)
            metrics.push({ ...metric, aggregationTemporality: AggregationTemporality.DELTA, dataPoints });
        } else {
          metrics.push(metric);
        }
      }
      return { scope: scope.scope, metrics };
    });
    return {
      batch: { resource: batch.resource, scopeMetrics: scopeMetrics.filter((s) => s.metrics.length > 0) },
      report: { initial },
    };
  }

  #sumPoint(key: string, point: DataPoint<number>, now: number): DataPoint<number> | undefined {
    const previous = this.#series.get(key);
    const exact = int64Of(point);
    this.#series.set(key, {
      start: point.startTime,
      end: point.endTime,
      value: point.value,
      exact,
      seen: now,
    });
    if (previous === undefined) return undefined;
    // Integers beyond 2^53 are subtracted exactly, as bigints.
    const exactDelta =
      (exact !== undefined || previous.exact !== undefined) &&
      Number.isInteger(point.value) &&
      Number.isInteger(previous.value)
        ? (exact ?? BigInt(point.value)) - (previous.exact ?? BigInt(previous.value))
        : undefined;
    const decreased = exactDelta === undefined ? point.value < previous.value : exactDelta < 0n;
    if (decreased || hrTimeAfter(point.startTime, previous.start))
      return {
        ...point,
        startTime: hrTimeAfter(point.startTime, previous.end) ? point.startTime : previous.end,
      };
    if (exactDelta !== undefined)
      return withInt64({ ...point, startTime: previous.end, value: Number(exactDelta) }, exactDelta);
    return { ...point, startTime: previous.end, value: point.value - previous.value };
  }

  #histogramPoint(key: string, point: DataPoint<Histogram>, now: number): DataPoint<Histogram> | undefined {
    const previous = this.#series.get(key);
    const h = point.value;
    this.#series.set(key, {
      start: point.startTime,
      end: point.endTime,
      value: h.count,
      histogram: h,
      seen: now,
    });
    if (previous?.histogram === undefined) return undefined;
    const before = previous.histogram;
    const sameBounds =
      before.buckets.boundaries.length === h.buckets.boundaries.length &&
      before.buckets.boundaries.every((b, i) => b === h.buckets.boundaries[i]);
    const reset = !sameBounds || h.count < before.count || hrTimeAfter(point.startTime, previous.start);
    if (reset) {
      const value: Histogram = { buckets: h.buckets, count: h.count };
      if (h.sum !== undefined) value.sum = h.sum;
      return {
        ...point,
        startTime: hrTimeAfter(point.startTime, previous.end) ? point.startTime : previous.end,
        value,
      };
    }
    const value: Histogram = {
      buckets: {
        boundaries: h.buckets.boundaries,
        counts: h.buckets.counts.map((c, i) => c - (before.buckets.counts[i] ?? 0)),
      },
      count: h.count - before.count,
    };
    if (h.sum !== undefined && before.sum !== undefined) value.sum = h.sum - before.sum;
    return { ...point, startTime: previous.end, value };
  }

  #prune(now: number): void {
    if (now - this.#lastPrune < Math.min(60_000, this.#ttlMs)) return;
    this.#lastPrune = now;
    for (const [key, state] of this.#series) if (now - state.seen > this.#ttlMs) this.#series.delete(key);
  }
}
