import type { ExporterFactory } from '../../kit/component.ts';
import { configSchema } from './config.ts';
import type { CsvExporterConfig } from './config.ts';
import { CsvExporter } from './csv.ts';

/** The `csv` exporter: one row per data point in a CSV file that pandas, R and spreadsheets load as is. */
export const csvFactory: ExporterFactory<CsvExporterConfig> = {
  kind: 'exporter',
  type: 'csv',
  stability: 'alpha',
  description:
    'Writes every data point as one row of a CSV file (fixed columns, RFC 4180 quoting), appending across restarts, with rotation by size and time.',
  configSchema,
  create(settings, config) {
    return new CsvExporter(settings, config);
  },
};
