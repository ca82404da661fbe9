import { sqlString } from './source.ts';

/** Which rows to keep. */
export interface RowFilter {
  metrics?: readonly string[];
  hosts?: readonly string[];
  collectors?: readonly string[];
  /** ISO 8601 bounds, inclusive. */
  from?: string;
  to?: string;
  /** Attribute values the row must have (compared as text). */
  attributes?: Readonly<Record<string, string>>;
}

/** A JSON path to one attribute key (keys hold dots: `cpu.mode`). */
export function attributePath(key: string): string {
  return sqlString(`$."${key.replaceAll('"', '\\"')}"`);
}

function timeBound(text: string, what: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`${what} ${JSON.stringify(text)}: not an ISO 8601 time`);
  return `TIMESTAMP ${sqlString(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;
}

/** The filter as an SQL condition over a results source (`TRUE` for none). */
export function whereSql(filter: RowFilter): string {
  const clauses: string[] = [];
  const among = (column: string, values: readonly string[] | undefined): void => {
    if (values !== undefined && values.length > 0)
      clauses.push(`${column} IN (${values.map(sqlString).join(', ')})`);
  };
  among('metric', filter.metrics);
  among('host', filter.hosts);
  among('collector', filter.collectors);
  if (filter.from !== undefined) clauses.push(`timestamp >= ${timeBound(filter.from, '--from')}`);
  if (filter.to !== undefined) clauses.push(`timestamp <= ${timeBound(filter.to, '--to')}`);
  for (const [key, value] of Object.entries(filter.attributes ?? {}))
    clauses.push(`json_extract_string(attributes, ${attributePath(key)}) = ${sqlString(value)}`);
  return clauses.length === 0 ? 'TRUE' : clauses.join(' AND ');
}
