import type { DuckDBConnection } from '@duckdb/node-api';
import type { RowFilter } from './filter.ts';
import { whereSql } from './filter.ts';
import { asText, explainReadError, kindOf, openDatabase, sourceSql } from './source.ts';

/** The statistics of one series (metric, host, collector, attributes) over a file. */
export interface SeriesSummary {
  metric: string;
  host: string;
  collector: string;
  unit: string;
  type: string;
  attributes: string;
  count: number;
  mean: number;
  min: number;
  max: number;
  /** Approximate 95th percentile (t-digest), when asked for. */
  p95?: number;
  /** Counters: mean increase per second from first to last row, counter resets handled. */
  rate?: number;
  first: string;
  last: string;
}

/** What to compute beyond count, mean, min, max and rate. */
export interface SummaryOptions {
  /** The 95th percentile (t-digest; it costs about as much as the rest together). */
  p95?: boolean;
}

/** An error saying what the file holds when a selection matches nothing. */
export class EmptySelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmptySelectionError';
  }
}

const SERIES = 'metric, host, collector, attributes';

/** Distinct values of a column in the rows that pass `where`, sorted. */
export async function distinctValues(
  connection: DuckDBConnection,
  source: string,
  column: string,
  where = 'TRUE',
): Promise<string[]> {
  const reader = await connection.runAndReadAll(
    `SELECT DISTINCT ${column} AS v FROM ${source} WHERE ${where} ORDER BY v`,
  );
  return reader.getRowsJS().map((r) => asText(r[0]));
}

/**
 * Why a selection is empty, listing what exists: the unknown metrics (with the metrics of
 * the file), hosts or collectors, or else the filter as a whole.
 */
export async function explainEmpty(
  connection: DuckDBConnection,
  source: string,
  path: string,
  filter: RowFilter,
): Promise<EmptySelectionError> {
  const checks: [keyof RowFilter, string, string][] = [
    ['metrics', 'metric', 'metrics'],
    ['hosts', 'host', 'hosts'],
    ['collectors', 'collector', 'collectors'],
  ];
  for (const [key, column, plural] of checks) {
    const wanted = filter[key] as readonly string[] | undefined;
    if (wanted === undefined || wanted.length === 0) continue;
    const present = await distinctValues(connection, source, column);
    const unknown = wanted.filter((w) => !present.includes(w));
    if (unknown.length > 0) {
      return new EmptySelectionError(
        `${path}: no ${column} ${unknown.join(', ')}; the ${plural} there: ${present.join(', ') || '(none)'}`,
      );
    }
  }
  if (filter.attributes !== undefined && Object.keys(filter.attributes).length > 0) {
    const where = whereSql({ ...filter, attributes: {} });
    const sets = await distinctValues(connection, source, 'attributes', where);
    return new EmptySelectionError(
      `${path}: no rows with ${Object.entries(filter.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )}; the attribute sets there: ${sets.slice(0, 20).join(' ')}${sets.length > 20 ? ` (and ${String(sets.length - 20)} more)` : ''}`,
    );
  }
  return new EmptySelectionError(`${path}: no rows between --from and --to`);
}

/** A table read column by column: its text columns as strings, the rest as numbers (or null). */
interface SortedTable {
  /** Per text column asked for, its value in each row. */
  text: string[][];
  /** The other columns by name, a number (or null) per row. */
  numbers: Record<string, (number | null)[]>;
  /** The row indexes sorted by the text columns, in the order they were named. */
  order: number[];
}

/**
 * Reads a whole table into JS, sorted by its text columns, through dictionaries: DuckDB
 * numbers each text column's distinct values in sort order, and JS receives each distinct
 * string once and an integer per row. Turning a DuckDB string into a JS string costs
 * microseconds, and a summary of a cluster has 500,000 series of 6 text columns, mostly
 * repeated (1,000 hosts, a few units): read row by row, that took longer than the pass over
 * the file. Integer ranks also sort like the strings they stand for, much faster.
 */
async function readSorted(
  connection: DuckDBConnection,
  table: string,
  textColumns: readonly string[],
): Promise<SortedTable> {
  const text: string[][] = [];
  const ids: string[] = [];
  const joins: string[] = [];
  for (const [i, column] of textColumns.entries()) {
    const dictionary = `${table}_dictionary_${String(i)}`;
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${dictionary} AS
      SELECT v, (row_number() OVER (ORDER BY v) - 1)::INTEGER AS id FROM (SELECT DISTINCT "${column}" AS v FROM ${table})`);
    const values =
      (await connection.runAndReadAll(`SELECT v FROM ${dictionary} ORDER BY id`)).getColumnsJS()[0] ?? [];
    text.push(values.map(asText));
    ids.push(`d${String(i)}.id AS "${column}"`);
    joins.push(`JOIN ${dictionary} d${String(i)} ON d${String(i)}.v IS NOT DISTINCT FROM t."${column}"`);
  }
  const others = (await connection.runAndReadAll(`SELECT * FROM ${table} LIMIT 0`))
    .columnNames()
    .filter((c) => !textColumns.includes(c));
  const reader = await connection.runAndReadAll(
    `SELECT ${[...ids, ...others.map((c) => `t."${c}"`)].join(', ')} FROM ${table} t ${joins.join(' ')}`,
  );
  const columns = reader.getColumnsJS();
  const keys = columns.slice(0, textColumns.length) as number[][];
  const numbers: Record<string, (number | null)[]> = {};
  for (const [i, c] of others.entries())
    numbers[c] = (columns[textColumns.length + i] ?? []).map((v) => (v === null ? null : Number(v)));
  const rowCount = keys[0]?.length ?? reader.currentRowCount;
  const order = Array.from({ length: rowCount }, (_, i) => i);
  order.sort((a, b) => {
    for (const k of keys) {
      const d = (k[a] ?? 0) - (k[b] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  });
  return {
    text: text.map((values, c) => (keys[c] ?? []).map((id) => values[id] ?? '')),
    numbers,
    order,
  };
}

/**
 * One pass over a results file (CSV or Parquet) in DuckDB: per series, count, mean, min, max,
 * first and last time, and for counters the rate per second. Memory is bounded by the number
 * of series (one group each), not of rows. A counter's rate is (last − first) / time; where a
 * reset shows (its start time changes, or its first and last values are not its minimum and
 * maximum) the increases of those series alone are summed in time order, a decrease counting
 * as a reset. An empty selection is an {@link EmptySelectionError} that lists what exists.
 */
export async function summarize(
  path: string,
  filter: RowFilter = {},
  options: SummaryOptions = {},
): Promise<SeriesSummary[]> {
  const kind = kindOf(path);
  const source = sourceSql(path, kind);
  const where = whereSql(filter);
  const db = await openDatabase();
  try {
    const c = db.connection;
    try {
      await c.run(`CREATE TEMP TABLE summary AS
        SELECT ${SERIES}, any_value(unit) AS unit, any_value("type") AS "type", count(*) AS n,
          avg(value) AS mean, min(value) AS mn, max(value) AS mx,
          ${options.p95 === true ? 'approx_quantile(value, 0.95)' : 'NULL::DOUBLE'} AS p95,
          arg_min(value, timestamp) AS v0, arg_max(value, timestamp) AS v1,
          min(timestamp) AS t0, max(timestamp) AS t1,
          min(start_timestamp) AS s0, max(start_timestamp) AS s1
        FROM ${source} WHERE ${where} GROUP BY ALL`);
      // The series whose counter was reset: their increases, summed in time order (a
      // second pass, over those series only, and only when there are any).
      const resetWhere = `"type" = 'counter' AND (s0 <> s1 OR v0 <> mn OR v1 <> mx)`;
      const resets = await c.runAndReadAll(`SELECT count(*) FROM summary WHERE ${resetWhere}`);
      const anyReset = Number(resets.getRowsJS()[0]?.[0] ?? 0) > 0;
      const increases = anyReset
        ? `WITH reset AS (SELECT ${SERIES} FROM summary WHERE ${resetWhere}),
        rows AS (
          SELECT ${SERIES}, timestamp, value FROM (SELECT * FROM ${source} WHERE ${where}) AS kept
            SEMI JOIN reset USING (${SERIES})),
        steps AS (
          SELECT ${SERIES}, value, lag(value) OVER (PARTITION BY ${SERIES} ORDER BY timestamp) AS previous
          FROM rows)
        SELECT ${SERIES}, sum(CASE WHEN previous IS NULL THEN 0 WHEN value >= previous THEN value - previous ELSE value END) AS increase
        FROM steps GROUP BY ALL`
        : `SELECT ${SERIES}, NULL::DOUBLE AS increase FROM summary WHERE FALSE`;
      await c.run(`CREATE TEMP TABLE increases AS ${increases}`);
    } catch (error) {
      throw explainReadError(path, error);
    }
    await c.run(`CREATE TEMP TABLE result AS
      SELECT s.metric, s.host, s.collector, s.attributes, s.unit, s."type", s.n::DOUBLE AS n, s.mean, s.mn, s.mx, s.p95,
        epoch_ms(s.t0)::DOUBLE AS t0, epoch_ms(s.t1)::DOUBLE AS t1,
        CASE WHEN s."type" = 'counter' AND s.t1 > s.t0
          THEN coalesce(i.increase, s.v1 - s.v0) / (epoch_ms(s.t1) - epoch_ms(s.t0)) * 1000 END AS rate
      FROM summary s LEFT JOIN increases i USING (${SERIES})`);
    const table = await readSorted(c, 'result', [
      'metric',
      'host',
      'collector',
      'attributes',
      'unit',
      'type',
    ]);
    const [metric, host, collector, attributes, unit, type] = table.text;
    const [n, mean, mn, mx, p95, t0, t1, rate] = ['n', 'mean', 'mn', 'mx', 'p95', 't0', 't1', 'rate'].map(
      (column) => table.numbers[column] ?? [],
    );
    // Series mostly share their first and last times: each is formatted once.
    const isoTimes = new Map<number, string>();
    const iso = (ms: number | null | undefined): string => {
      const key = ms ?? NaN;
      let text = isoTimes.get(key);
      if (text === undefined) {
        text = new Date(key).toISOString();
        isoTimes.set(key, text);
      }
      return text;
    };
    const rows = table.order.map((i): SeriesSummary => {
      const summary: SeriesSummary = {
        metric: metric?.[i] ?? '',
        host: host?.[i] ?? '',
        collector: collector?.[i] ?? '',
        unit: unit?.[i] ?? '',
        type: type?.[i] ?? '',
        attributes: attributes?.[i] ?? '',
        count: n?.[i] ?? 0,
        mean: mean?.[i] ?? NaN,
        min: mn?.[i] ?? NaN,
        max: mx?.[i] ?? NaN,
        first: iso(t0?.[i]),
        last: iso(t1?.[i]),
      };
      const p = p95?.[i];
      if (p !== null && p !== undefined) summary.p95 = p;
      const r = rate?.[i];
      if (r !== null && r !== undefined) summary.rate = r;
      return summary;
    });
    if (rows.length === 0) throw await explainEmpty(c, source, path, filter);
    return rows;
  } finally {
    db.close();
  }
}

const fmt = (n: number | undefined): string => {
  if (n === undefined) return '';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  return abs !== 0 && (abs >= 1e9 || abs < 1e-3) ? n.toExponential(3) : String(Number(n.toPrecision(6)));
};

/** Plain-text tables, one per metric, one row per host, collector and attribute set. */
export function formatSummary(rows: readonly SeriesSummary[]): string {
  const out: string[] = [];
  let metric = '';
  let table: string[][] = [];
  const withP95 = rows.some((r) => r.p95 !== undefined);
  const flush = (): void => {
    if (table.length === 0) return;
    const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    for (const r of table)
      out.push(
        r
          .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      );
    out.push('');
    table = [];
  };
  for (const r of rows) {
    if (r.metric !== metric) {
      flush();
      metric = r.metric;
      out.push(`${r.metric} (${r.unit}, ${r.type})`);
      table.push([
        'host',
        'collector',
        'attributes',
        'n',
        'mean',
        'min',
        'max',
        ...(withP95 ? ['p95'] : []),
        r.type === 'counter' ? 'rate/s' : '',
      ]);
    }
    table.push([
      r.host,
      r.collector,
      r.attributes,
      String(r.count),
      fmt(r.mean),
      fmt(r.min),
      fmt(r.max),
      ...(withP95 ? [fmt(r.p95)] : []),
      fmt(r.rate),
    ]);
  }
  flush();
  return out.join('\n');
}
