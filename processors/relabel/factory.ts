import type { ProcessorFactory } from '../../kit/component.ts';
import type { RelabelConfig } from './config.ts';
import { relabelConfigSchema } from './config.ts';
import { RelabelProcessor } from './processor.ts';

/** The relabel processor: Prometheus relabel_config on points and resources, rename, scale, filter. */
export const relabelFactory: ProcessorFactory<RelabelConfig> = {
  kind: 'processor',
  type: 'relabel',
  stability: 'beta',
  description:
    'Prometheus relabel_config on metric names, point and resource attributes; rename, scale, static labels, keep or drop metrics by name.',
  configSchema: relabelConfigSchema,
  create(settings, config, next) {
    return new RelabelProcessor(settings, config, next);
  },
};
