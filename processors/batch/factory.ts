import type { ProcessorFactory } from '../../kit/component.ts';
import type { BatchConfig } from './config.ts';
import { batchConfigSchema } from './config.ts';
import { BatchProcessor } from './processor.ts';

/** The batch processor: fewer, larger batches for exporters; split when too large. */
export const batchFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  stability: 'beta',
  description:
    'Gathers batches up to send_batch_size points or timeout, merging those of one resource and scope; splits above send_batch_max_size.',
  configSchema: batchConfigSchema,
  create(settings, config, next) {
    return new BatchProcessor(settings, config, next);
  },
};
