import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';

/**
 * A point multiplied by kwollect's `scale_factor`, by the kind of metric it belongs to: a
 * gauge's or sum's value; a histogram's bucket bounds, sum, min and max, never its counts
 * (a negative factor reverses the buckets). `countOnly` points (a summary's `_count`) are
 * counts and stay as they are. Exponential histograms cannot be rescaled exactly (their
 * bounds are powers of a base): undefined when the factor is not 1.
 */
export function scalePoint(
  type: MetricData['dataPointType'],
  point: DataPoint<unknown>,
  factor: number,
  countOnly = false,
): DataPoint<unknown> | undefined {
  if (factor === 1 || countOnly) return point;
  switch (type) {
    case DataPointType.GAUGE:
    case DataPointType.SUM:
      return { ...point, value: (point.value as number) * factor };
    case DataPointType.HISTOGRAM:
      return { ...point, value: scaleHistogram(point.value as Histogram, factor) };
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return undefined;
  }
}

function scaleHistogram(h: Histogram, factor: number): Histogram {
  const boundaries = h.buckets.boundaries.map((b) => b * factor);
  const counts = [...h.buckets.counts];
  const scaledMin = h.min === undefined ? undefined : h.min * factor;
  const scaledMax = h.max === undefined ? undefined : h.max * factor;
  const negative = factor < 0;
  if (negative) {
    boundaries.reverse();
    counts.reverse();
  }
  const min = negative ? scaledMax : scaledMin;
  const max = negative ? scaledMin : scaledMax;
  return {
    buckets: { boundaries, counts },
    count: h.count,
    ...(h.sum === undefined ? {} : { sum: h.sum * factor }),
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
  };
}
