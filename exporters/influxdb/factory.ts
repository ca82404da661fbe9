import type { ExporterFactory } from '../../kit/component.ts';
import type { InfluxdbExporterConfig } from './config.ts';
import { configSchema } from './config.ts';
import { InfluxdbExporter } from './influxdb.ts';

/** `influxdb` exporter: line protocol over HTTP to InfluxDB 1.x or 2.x, with the delivery queue. */
export const influxdbExporterFactory: ExporterFactory<InfluxdbExporterConfig> = {
  kind: 'exporter',
  type: 'influxdb',
  stability: 'alpha',
  description:
    'Writes metrics as InfluxDB line protocol to InfluxDB 1.x (/write) or 2.x (/api/v2/write), in the otel or cs_pulse_sensor schema, with a sending queue and retries.',
  configSchema,
  create(settings, config) {
    return new InfluxdbExporter(settings, config);
  },
};
