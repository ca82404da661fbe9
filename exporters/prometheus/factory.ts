import type { ExporterFactory } from '../../kit/component.ts';
import { configSchema } from './config.ts';
import type { PrometheusExporterConfig } from './config.ts';
import { PrometheusExporter } from './prometheus.ts';

/** The `prometheus` exporter: the latest point of every series, served for Prometheus to scrape. */
export const prometheusExporterFactory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  stability: 'beta',
  description:
    'Serves the latest point of every series on /metrics for Prometheus to scrape (text format or OpenMetrics), with OpenTelemetry-to-Prometheus names and expiry of series that stop arriving.',
  configSchema,
  create(settings, config) {
    return new PrometheusExporter(settings, config);
  },
};
