import type { ExporterFactory } from '../../kit/component.ts';
import type { RemoteWriteConfig } from './config.ts';
import { configSchema } from './config.ts';
import { RemoteWriteExporter } from './prometheusremotewrite.ts';

/** `prometheusremotewrite` exporter: Prometheus Remote-Write 1.0 with shards, a sending queue and retries. */
export const prometheusRemoteWriteFactory: ExporterFactory<RemoteWriteConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  stability: 'alpha',
  description:
    'Pushes metrics with Prometheus Remote-Write 1.0 (Prometheus, Mimir, Thanos, VictoriaMetrics): sharded, queued, retried, with stale markers.',
  configSchema,
  create(settings, config) {
    return new RemoteWriteExporter(settings, config);
  },
};
