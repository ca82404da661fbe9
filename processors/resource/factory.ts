import type { ProcessorFactory } from '../../kit/component.ts';
import type { ResourceProcessorConfig } from './config.ts';
import { resourceConfigSchema } from './config.ts';
import { ResourceProcessor } from './processor.ts';

/** The resource processor: host, OS and Kubernetes identity on every resource. */
export const resourceFactory: ProcessorFactory<ResourceProcessorConfig> = {
  kind: 'processor',
  type: 'resource',
  stability: 'beta',
  description:
    'Sets host.name, host.id, os.type, service.instance.id and k8s.node/pod/namespace from detection and the downward API; explicit values win.',
  configSchema: resourceConfigSchema,
  create(settings, config, next) {
    return new ResourceProcessor(settings, config, next);
  },
};
