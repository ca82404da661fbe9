import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';

/**
 * A batch as reviewable text for golden files: per metric a `# name instrument unit` line, then
 * one line per point, `name{key="value",…} value`, keys and lines sorted; timestamps left out.
 */
export function formatBatch(batch: ResourceMetrics): string {
  const metrics: MetricData[] = batch.scopeMetrics.flatMap((scope) => scope.metrics);
  metrics.sort((a, b) => (a.descriptor.name < b.descriptor.name ? -1 : 1));
  const out: string[] = [];
  for (const metric of metrics) {
    if (metric.dataPoints.length === 0) continue;
    out.push(`# ${metric.descriptor.name} ${instrumentOf(metric)} ${metric.descriptor.unit}`);
    const lines = metric.dataPoints.map((point) => {
      const attributes = Object.entries(point.attributes)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
        .join(',');
      return `${metric.descriptor.name}{${attributes}} ${typeof point.value === 'number' ? String(point.value) : JSON.stringify(point.value)}`;
    });
    out.push(...lines.sort());
  }
  return `${out.join('\n')}\n`;
}

/** The instrument kind a metric was published with, as metadata.ts spells it. */
export function instrumentOf(metric: MetricData): string {
  if (metric.dataPointType === DataPointType.GAUGE) return 'gauge';
  if (metric.dataPointType === DataPointType.SUM) return metric.isMonotonic ? 'counter' : 'updowncounter';
  return 'histogram';
}
