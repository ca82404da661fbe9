import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** Number of data points in a batch (every metric of every scope). */
export function countPoints(batch: ResourceMetrics): number {
  let total = 0;
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) total += metric.dataPoints.length;
  }
  return total;
}
