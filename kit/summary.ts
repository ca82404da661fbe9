/**
 * How a summary (OTLP `Summary`, a Prometheus summary) travels in the SDK's data model, which
 * has no summary type: a summary metric `m` is carried as
 *
 * - a gauge `m` with one point per quantile (attribute `quantile`, the quantile as a decimal
 *   string, as Prometheus writes it), left out when the summary has no quantiles;
 * - a cumulative non-monotonic sum `m.sum` (the sum of observations);
 * - a cumulative monotonic sum `m.count` (the number of observations).
 *
 * Receivers that meet summaries (otlp, prometheus) build this shape; exporters that can write
 * a summary (prometheus) recognize it with {@link findSummaries}.
 */

import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData } from '@opentelemetry/sdk-metrics';

/** The name suffix of the sum of a summary's observations. */
export const SUMMARY_SUM_SUFFIX = '.sum';
/** The name suffix of the count of a summary's observations. */
export const SUMMARY_COUNT_SUFFIX = '.count';

/** The parts of one summary found among a scope's metrics. */
export interface SummaryParts {
  /** The summary's name (`m`). */
  readonly name: string;
  readonly quantiles: MetricData | undefined;
  readonly sum: MetricData;
  readonly count: MetricData;
}

/**
 * The summaries among one scope's metrics: every pair of a non-monotonic sum `m.sum` and a
 * monotonic sum `m.count`, with the gauge `m` when all its points carry a `quantile`.
 */
export function findSummaries(metrics: readonly MetricData[]): Map<string, SummaryParts> {
  const byName = new Map<string, MetricData>();
  for (const m of metrics) byName.set(m.descriptor.name, m);
  const out = new Map<string, SummaryParts>();
  for (const sum of metrics) {
    const sumName = sum.descriptor.name;
    if (!sumName.endsWith(SUMMARY_SUM_SUFFIX)) continue;
    if (sum.dataPointType !== DataPointType.SUM || sum.isMonotonic) continue;
    const name = sumName.slice(0, -SUMMARY_SUM_SUFFIX.length);
    const count = byName.get(`${name}${SUMMARY_COUNT_SUFFIX}`);
    if (count?.dataPointType !== DataPointType.SUM || !count.isMonotonic) continue;
    const gauge = byName.get(name);
    const quantiles =
      gauge?.dataPointType === DataPointType.GAUGE &&
      gauge.dataPoints.every((p) => typeof p.attributes.quantile === 'string')
        ? gauge
        : undefined;
    out.set(name, { name, quantiles, sum, count });
  }
  return out;
}
