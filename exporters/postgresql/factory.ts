import type { ExporterFactory } from '../../kit/component.ts';
import type { PostgresqlExporterConfig } from './config.ts';
import { configSchema } from './config.ts';
import { PostgresqlExporter } from './postgresql.ts';

/** `postgresql` exporter: rows into kwollect's PostgreSQL `metrics` table by COPY, through the sending queue. */
export const postgresqlExporterFactory: ExporterFactory<PostgresqlExporterConfig> = {
  kind: 'exporter',
  type: 'postgresql',
  stability: 'alpha',
  description:
    "Writes metrics into kwollect's PostgreSQL store (the metrics table, by COPY) with a sending queue and retries; creates kwollect's schema on an empty database.",
  configSchema,
  create(settings, config) {
    return new PostgresqlExporter(settings, config);
  },
};
