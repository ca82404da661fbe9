import type { DuckDBConnection } from '@duckdb/node-api';
import type { RowFilter } from './filter.ts';
import { whereSql } from './filter.ts';
import type { Line } from './series.ts';
import { chartLines } from './series.ts';
import { distinctValues, explainEmpty } from './summary.ts';
import { asText, explainReadError, kindOf, openDatabase, sourceSql } from './source.ts';

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
  /** One more SQL condition on the rows (e.g. on an attribute with `json_extract_string`). */
  where?: string;
  /**
   * The time axis, ms since the epoch (the selection's first and last times by default):
   * given, the file is not read once more to find them.
   */
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

  async #distinct(column: string, where = 'TRUE'): Promise<string[]> {
    try {
      return await distinctValues(this.#connection, this.#source, column, where);
    } catch (error) {
      throw explainReadError(this.path, error);
    }
  }

  hosts(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('host', whereSql(filter));
  }

  collectors(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('collector', whereSql(filter));
  }

  metrics(filter: RowFilter = {}): Promise<string[]> {
    return this.#distinct('metric', whereSql(filter));
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
    const where = `${whereSql(filter)}${and}`;
    let info: Record<string, unknown> | undefined;
    try {
      const reader = await this.#connection.runAndReadAll(
        span === undefined
          ? `SELECT any_value(unit) AS unit, any_value("type") AS "type", epoch_ms(min(timestamp)) AS t0,
               epoch_ms(max(timestamp)) AS t1, count(*) AS n FROM ${this.#source} WHERE ${where}`
          : // The first matching row is enough: the scan stops there.
            `SELECT unit, "type", ${String(span.t0)} AS t0, ${String(span.t1)} AS t1, 1 AS n
               FROM ${this.#source} WHERE ${where} LIMIT 1`,
      );
      info = reader.getRowObjectsJS()[0];
    } catch (error) {
      throw explainReadError(this.path, error);
    }
    if (info === undefined || Number(info.n) === 0)
      throw await explainEmpty(this.#connection, this.#source, this.path, filter);
    const type = asText(info.type);
    const rate = options.rate ?? type === 'counter';
    const t0 = Number(info.t0);
    const t1 = Number(info.t1);
    const lines = await chartLines(this.#connection, this.#source, {
      metric,
      where: `${whereSql({ ...filter, metrics: [] })}${and}`,
      rate,
      ...(options.scale === undefined ? {} : { scale: options.scale }),
      buckets: options.buckets ?? 1000,
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
