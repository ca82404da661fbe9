/**
 * The csv exporter's public module. Besides the factory, other components may use the row
 * layout it writes (the experiments extension records the same rows): `CSV_COLUMNS` and
 * `toRows`.
 */
export { csvFactory } from './factory.ts';
export { CSV_COLUMNS, toRows } from './rows.ts';
