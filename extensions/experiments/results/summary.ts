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
    const reader = await c.runAndReadAll(`
      SELECT s.metric, s.host, s.collector, s.attributes, s.unit, s."type", s.n, s.mean, s.mn, s.mx, s.p95,
        epoch_ms(s.t0) AS t0, epoch_ms(s.t1) AS t1,
        CASE WHEN s."type" = 'counter' AND s.t1 > s.t0
          THEN coalesce(i.increase, s.v1 - s.v0) / (epoch_ms(s.t1) - epoch_ms(s.t0)) * 1000 END AS rate
      FROM summary s LEFT JOIN increases i USING (${SERIES})
      ORDER BY s.metric, s.host, s.collector, s.attributes`);
    const rows = reader.getRowObjectsJS().map((r): SeriesSummary => {
      const summary: SeriesSummary = {
        metric: asText(r.metric),
        host: asText(r.host),
        collector: asText(r.collector),
        unit: asText(r.unit),
        type: asText(r.type),
        attributes: asText(r.attributes),
        count: Number(r.n),
        mean: Number(r.mean),
        min: Number(r.mn),
        max: Number(r.mx),
        first: new Date(Number(r.t0)).toISOString(),
        last: new Date(Number(r.t1)).toISOString(),
      };
      if (r.p95 !== null) summary.p95 = Number(r.p95);
      if (r.rate !== null) summary.rate = Number(r.rate);
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
