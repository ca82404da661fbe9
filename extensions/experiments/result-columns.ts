import { CSV_COLUMNS } from '../../exporters/csv/index.ts';

/**
 * The columns of an experiment's results (each collector's file, the merged CSV and the
 * merged Parquet): the CSV exporter's columns with `collector` after `host`. `collector` is
 * the collector's own id (kept in its experiments directory), so two collectors that share a
 * host name (containers, cloned VMs) stay two series.
 */
export const RESULT_COLUMNS = [
  'timestamp',
  'host',
  'collector',
  'metric',
  'unit',
  'type',
  'value',
  'attributes',
  'resource',
  'start_timestamp',
] as const;

/** The header line of a results CSV file, with its line ending. */
export const RESULT_HEADER = `${RESULT_COLUMNS.join(',')}\n`;

/** The header of a file the CSV exporter wrote (no `collector`): read too, `collector` then being `host`. */
export const EXPORTER_HEADER = `${CSV_COLUMNS.join(',')}\n`;
