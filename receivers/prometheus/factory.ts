import type { ReceiverFactory } from '../../kit/component.ts';
import type { PrometheusReceiverConfig } from './config.ts';
import { configSchema } from './config.ts';
import { PrometheusReceiver } from './receiver.ts';

/** The prometheus receiver: scrapes Prometheus exporters. */
export const prometheusReceiverFactory: ReceiverFactory<PrometheusReceiverConfig> = {
  kind: 'receiver',
  type: 'prometheus',
  stability: 'alpha',
  description:
    'Scrapes Prometheus exporters (text format and OpenMetrics): counters, gauges, histograms and summaries as OpenTelemetry points, exporter timestamps kept.',
  configSchema,
  create(settings, config) {
    return new PrometheusReceiver(settings, config);
  },
};
