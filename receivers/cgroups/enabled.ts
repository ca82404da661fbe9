import type { MetricMetadata } from '../../kit/metadata.ts';
import type { Config, MetricGroup } from './config.ts';
import { metadata } from './metadata.ts';

/**
 * The metrics a configuration switches on: a group set to true or false in `metrics` switches
 * all its metrics; an unset group leaves each metric at its default.
 */
export function enabledMetrics(config: Pick<Config, 'metrics'>): MetricMetadata[] {
  return metadata.metrics.filter((m) => config.metrics[m.group as MetricGroup] ?? m.enabled);
}
