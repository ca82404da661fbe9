import type { Attributes } from '@opentelemetry/api';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** A copy of a batch whose every data point also carries `extra` (which wins on a clash). */
export function withPointAttributes(batch: ResourceMetrics, extra: Attributes): ResourceMetrics {
  return {
    resource: batch.resource,
    scopeMetrics: batch.scopeMetrics.map((scope) => ({
      scope: scope.scope,
      metrics: scope.metrics.map(
        (metric) =>
          ({
            ...metric,
            dataPoints: metric.dataPoints.map((point) => ({
              ...point,
              attributes: { ...point.attributes, ...extra },
            })),
          }) as MetricData,
      ),
    })),
  };
}
