import type { MetricMetadata } from '../../kit/metadata.ts';
import type { Config } from './config.ts';
import { metadata } from './metadata.ts';

/** The catalogue entries of the metrics a configuration switches on (see kit/metric-switches.ts). */
export function enabledMetrics(config: Pick<Config, 'metrics'>): MetricMetadata[] {
  return metadata.metrics.filter((m) => config.metrics.has(m.name));
}
