import type { ExporterFactory } from '../../kit/component.ts';
import type { OtlpExporterConfig } from './config.ts';
import { configSchema } from './config.ts';
import { OtlpExporter } from './otlp.ts';

/** `otlp` exporter: OTLP/gRPC or OTLP/HTTP with a sending queue, retries and an optional disk queue. */
export const otlpExporterFactory: ExporterFactory<OtlpExporterConfig> = {
  kind: 'exporter',
  type: 'otlp',
  stability: 'beta',
  description:
    'Sends metrics and logs over OTLP (gRPC or HTTP/protobuf) with a sending queue, retries and an optional persistent queue.',
  configSchema,
  signals: ['metrics', 'logs'],
  create(settings, config) {
    return new OtlpExporter(settings, config);
  },
};
