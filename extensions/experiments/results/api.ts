import type { DuckDBConnection } from '@duckdb/node-api';
import type { RowFilter } from './filter.ts';
import { whereSql } from './filter.ts';
import type { Line } from './series.ts';
import { chartLines } from './series.ts';
import { distinctValues, explainEmpty } from './summary.ts';
import { asText, explainReadError, kindOf, openDatabase, sourceSql } from './source.ts';

/** The temporary table of what a file holds (see `Results`). */
const SETS_TABLE = 'inframeter_sets';

/** A metric's lines, ready for a chart. */
export interface MetricLines {
  metric: string;
  /** The unit of the values drawn (`s/s` for a counter of seconds drawn as a rate). */
  unit: string;
  type: string;
  lines: Line[];
  /** The selection's first and last times, ms since the epoch. */
  t0: number;
  t1: number;
}

/** How to draw a metric. */
export interface LineOptions extends Omit<RowFilter, 'metrics'> {
  /** Counters as rates per second (the default for counters). */
  rate?: boolean;
  scale?: number;
  /** The unit to show instead of the metric's own. */
  unit?: string;
  /** Time buckets across the selection (1,000 by default). */
  buckets?: number;
  /**
   * One more SQL condition on the attribute set (the column `attributes`, e.g. with
   * `json_extract_string`), evaluated once per attribute set of the metric.
   */
  where?: string;
  /** The time axis, ms since the epoch (the selection's first and last times by default). */
  span?: { t0: number; t1: number };
}

/**
 * The questions asked of an experiment's results (CSV or Parquet), answered by DuckDB over
 * the file without loading it: which hosts, collectors and metrics, and a metric's lines per
 * collector (summed over attribute sets, counters as rates, in bounded time buckets).
 *
 *   const r = await Results.open('run-42.parquet');
 *   await r.metrics(); await r.lines('system.cpu.time', { attributes: { 'cpu.mode': 'user' } });
 *   r.close();
 */
export class Results {
  readonly path: string;
  readonly #source: string;
  readonly #connection: DuckDBConnection;
  readonly #close: () => void;

  private constructor(path: string, source: string, connection: DuckDBConnection, close: () => void) {
    this.path = path;
    this.#source = source;
    this.#connection = connection;
    this.#close = close;
  }

  /** Opens a results file; a CSV that is not inframeter's fails here, naming its first line. */
  static async open(path: string): Promise<Results> {
    const source = sourceSql(path, kindOf(path));
    const db = await openDatabase();
    return new Results(path, source, db.connection, db.close);
  }

  #sets: Promise<unknown> | undefined;

  /**
   * A small table of what the file holds, built by one pass over it: each metric's attribute
   * sets (with unit, type, rows, first and last times; `host` NULL) and each host's
   * collectors (`metric` NULL). Two small groupings, not one per series: the 500,000 series
   * of a cluster cost more than twice as much to group. The questions that need no time
   * window are answered from it, and attribute conditions are evaluated once per attribute
   * set instead of parsing the JSON of every row. `times` (approximate distinct timestamps,
   * a fixed-size sketch per group) tells a chart how many timestamps its lines have.
   */
  async #setsTable(): Promise<string> {
    this.#sets ??= this.#connection.run(`CREATE TEMP TABLE ${SETS_TABLE} AS
      SELECT metric, attributes, host, collector, any_value(unit) AS unit, any_value("type") AS "type",
        count(*) AS n, min(timestamp) AS t0, max(timestamp) AS t1, approx_count_distinct(timestamp) AS times
      FROM ${this.#source} GROUP BY GROUPING SETS ((metric, attributes), (host, collector))`);
    try {
      await this.#sets;
    } catch (error) {
      throw explainReadError(this.path, error);
    }
    return SETS_TABLE;
  }

  /** The condition selecting one half of the sets table. */
  static #half(what: 'attribute sets' | 'collectors'): string {
    return what === 'attribute sets'
      ? 'host IS NULL AND collector IS NULL'
      : 'metric IS NULL AND attributes IS NULL';
  }

  async #distinct(column: 'metric' | 'host' | 'collector', filter: RowFilter): Promise<string[]> {
    // The sets table answers a filter on the columns of one of its halves; anything else
    // (a time window, a metric and a host together) needs the rows.
    const window = filter.from !== undefined || filter.to !== undefined;
    const attributes = Object.keys(filter.attributes ?? {}).length > 0;
    const onAttributeSets =
      column === 'metric' && !window && filter.hosts === undefined && filter.collectors === undefined;
    const onCollectors = column !== 'metric' && !window && !attributes && filter.metrics === undefined;
    try {
      if (!onAttributeSets && !onCollectors)
        return await distinctValues(this.#connection, this.#source, column, whereSql(filter));
      const sets = await this.#setsTable();
      const half = Results.#half(onAttributeSets ? 'attribute sets' : 'collectors');
      return await distinctValues(this.#connection, sets, column, `${half} AND ${whereSql(filter)}`);
    } catch (error) {
      throw explainReadError(this.path, error);
    }
  }

  hosts(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('host', filter);
  }

  collectors(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('collector', filter);
  }

  metrics(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('metric', filter);
  }

  /** What the file holds: rows, hosts, collectors, metrics, and its first and last times (ms). */
  async overview(): Promise<{
    rows: number;
    hosts: number;
    collectors: number;
    metrics: number;
    t0: number;
    t1: number;
  }> {
    const sets = await this.#setsTable();
    const reader = await this.#connection.runAndReadAll(
      `SELECT sum(n) FILTER (WHERE ${Results.#half('attribute sets')}) AS n,
         count(DISTINCT host) AS hosts, count(DISTINCT collector) AS collectors,
         count(DISTINCT metric) AS metrics, epoch_ms(min(t0)) AS t0, epoch_ms(max(t1)) AS t1 FROM ${sets}`,
    );
    const r = reader.getRowObjectsJS()[0] ?? {};
    return {
      rows: Number(r.n ?? 0),
      hosts: Number(r.hosts ?? 0),
      collectors: Number(r.collectors ?? 0),
      metrics: Number(r.metrics ?? 0),
      t0: Number(r.t0),
      t1: Number(r.t1),
    };
  }

  /**
   * A metric's lines: one per collector, summed over the attribute sets that pass the
   * filter, counters as rates per second unless `rate` is false. An empty selection is an
   * error that lists what the file holds.
   */
  async lines(metric: string, options: LineOptions = {}): Promise<MetricLines> {
    const { where: extra, span, ...rest } = options;
    const filter: RowFilter = { ...rest, metrics: [metric] };
    const and = extra === undefined ? '' : ` AND (${extra})`;
    const sets = await this.#setsTable();
    // The attribute sets drawn: the metric's, with the attributes asked for.
    const kept = `${Results.#half('attribute sets')} AND ${whereSql({ metrics: [metric], ...(filter.attributes === undefined ? {} : { attributes: filter.attributes }) })}${and}`;
    const byRows =
      filter.hosts !== undefined ||
      filter.collectors !== undefined ||
      filter.from !== undefined ||
      filter.to !== undefined;
    const attributeSets = ` AND attributes IN (SELECT attributes FROM ${sets} WHERE ${kept})`;
    // The file's collectors: as many lines at most.
    const lineCount = `(SELECT count(*) FROM ${sets} WHERE ${Results.#half('collectors')}) AS lines`;
    let info: Record<string, unknown> | undefined;
    try {
      const reader = await this.#connection.runAndReadAll(
        byRows
          ? `SELECT any_value(unit) AS unit, any_value("type") AS "type", epoch_ms(min(timestamp)) AS t0,
               epoch_ms(max(timestamp)) AS t1, count(*) AS n, count(DISTINCT attributes) AS sets,
               approx_count_distinct(timestamp) AS times, ${lineCount} FROM ${this.#source}
             WHERE ${whereSql({ ...filter, attributes: {} })}${attributeSets}`
          : `SELECT any_value(unit) AS unit, any_value("type") AS "type", epoch_ms(min(t0)) AS t0,
               epoch_ms(max(t1)) AS t1, coalesce(sum(n), 0) AS n, count(DISTINCT attributes) AS sets,
               max(times) AS times, ${lineCount} FROM ${sets} WHERE ${kept}`,
      );
      info = reader.getRowObjectsJS()[0];
    } catch (error) {
      throw explainReadError(this.path, error);
    }
    if (info === undefined || Number(info.n) === 0)
      throw await explainEmpty(this.#connection, this.#source, this.path, filter);
    const type = asText(info.type);
    const rate = options.rate ?? type === 'counter';
    const t0 = span?.t0 ?? Number(info.t0);
    const t1 = span?.t1 ?? Number(info.t1);
    const everySet = extra === undefined && Object.keys(filter.attributes ?? {}).length === 0;
    const lines = await chartLines(this.#connection, this.#source, {
      metric,
      where: `${whereSql({ ...filter, metrics: [], attributes: {} })}${everySet ? '' : attributeSets}`,
      rate,
      ...(options.scale === undefined ? {} : { scale: options.scale }),
      buckets: options.buckets ?? 1000,
      oneSet: Number(info.sets) <= 1,
      // The most distinct timestamps of a set kept (or of the rows kept): a line has no more,
      // as a collector stamps all the points of a scrape alike. approx_count_distinct errs by
      // a few per cent, which moves only the choice of a one- or two-pass query.
      timestamps: Number(info.times),
      lines: Number(info.lines),
      t0,
      t1,
    });
    const unit = options.unit ?? (rate ? `${asText(info.unit)}/s` : asText(info.unit));
    return { metric, unit, type, lines, t0, t1 };
  }

  /** Runs an SQL query over the file, available as the view `results`; rows as objects. */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    await this.#connection.run(`CREATE OR REPLACE TEMP VIEW results AS SELECT * FROM ${this.#source}`);
    const reader = await this.#connection.runAndReadAll(sql);
    return reader.getRowObjectsJS();
  }

  close(): void {
    this.#close();
  }
}
