import type { DuckDBConnection } from '@duckdb/node-api';
import { asText, sqlString } from './source.ts';

/** One time bucket of a line: its mean (or rate), and the lowest and highest values with their times. */
export interface Bucket {
  /** ms since the epoch. */
  t: number;
  v: number;
  lo: number;
  tlo: number;
  hi: number;
  thi: number;
}

/** What one chart line is: one collector's values of a metric, summed over the attribute sets kept. */
export interface Line {
  host: string;
  collector: string;
  /** The legend's name: the host, with the collector's id when the host has several collectors. */
  name: string;
  buckets: Bucket[];
}

/** What to draw of a metric. */
export interface LineSpec {
  metric: string;
  /** An SQL condition on the rows (attributes, hosts, time), `TRUE` for all. */
  where: string;
  /** Counters as rates per second. */
  rate: boolean;
  /** Multiplies the values (e.g. bytes to MiB). */
  scale?: number;
  /** Time buckets across [t0, t1]. */
  buckets: number;
  /**
   * True when each line has one attribute set of the metric at most: a gauge's rows are
   * then its points, with no sum per timestamp to compute.
   */
  oneSet?: boolean;
  t0: number;
  t1: number;
}

/**
 * The lines of a chart, computed in DuckDB with memory bounded by the lines × buckets, never
 * the timestamps or the rows. A line is a collector's values summed over the attribute sets
 * kept, cut into `buckets` equal time buckets:
 *
 * - a counter becomes the rate between the sums at the last timestamps of consecutive
 *   buckets (a decrease is a reset: the new value is the increase). One pass finds each
 *   bucket's first and last timestamps, a second sums the rows at those timestamps only
 *   (a join against the lines × buckets × 2 ends): the sum at a timestamp is never grouped
 *   for the other timestamps;
 * - a gauge keeps per bucket its mean and its extremes with the times they happened (so a
 *   peak between two drawn points still shows). With one attribute set per line (`oneSet`)
 *   the rows are bucketed as they are; summing several sets per timestamp needs a grouping
 *   by line and timestamp first, whose memory follows the lines × timestamps.
 */
export async function chartLines(
  connection: DuckDBConnection,
  source: string,
  spec: LineSpec,
): Promise<Line[]> {
  const span = Math.max(1, spec.t1 - spec.t0 + 1);
  const scale = String(spec.scale ?? 1);
  const bucket = `least(${String(spec.buckets - 1)}, floor((epoch_ms(timestamp) - ${String(spec.t0)}) * ${String(spec.buckets)} / ${String(span)}))::INTEGER`;
  // The rows drawn. Written out at each use rather than as a CTE, which DuckDB would
  // materialize when it is read twice.
  const rows = `(SELECT host, collector, timestamp, value FROM ${source}
    WHERE metric = ${sqlString(spec.metric)} AND ${spec.where} AND isfinite(value))`;
  let query: string;
  if (spec.rate) {
    query = `WITH ends AS MATERIALIZED (
         SELECT host, collector, ${bucket} AS b, min(timestamp) AS tfirst, max(timestamp) AS tlast
         FROM ${rows} GROUP BY ALL),
       marks AS (
         SELECT host, collector, b, tlast AS timestamp, TRUE AS last FROM ends
         UNION ALL SELECT host, collector, b, tfirst AS timestamp, FALSE AS last FROM ends),
       b AS (
         SELECT m.host, m.collector, m.b,
           sum(r.value) FILTER (WHERE m.last) * ${scale} AS last, epoch_ms(max(m.timestamp)) AS tlast,
           sum(r.value) FILTER (WHERE NOT m.last) * ${scale} AS first, epoch_ms(min(m.timestamp)) AS tfirst
         FROM ${rows} r JOIN marks m
           ON r.host = m.host AND r.collector = m.collector AND r.timestamp = m.timestamp
         GROUP BY m.host, m.collector, m.b),
       r AS (
         SELECT host, collector, b, tlast AS t,
           CASE
             WHEN lag(last) OVER w IS NULL THEN
               CASE WHEN tlast > tfirst AND last >= first THEN (last - first) / (tlast - tfirst) * 1000 END
             WHEN tlast <= lag(tlast) OVER w THEN NULL
             WHEN last >= lag(last) OVER w THEN (last - lag(last) OVER w) / (tlast - lag(tlast) OVER w) * 1000
             ELSE last / (tlast - lag(tlast) OVER w) * 1000
           END AS v
         FROM b WINDOW w AS (PARTITION BY host, collector ORDER BY b))
       SELECT host, collector, b, t, v, v AS lo, t AS tlo, v AS hi, t AS thi FROM r WHERE v IS NOT NULL`;
  } else {
    // Several attribute sets in the file may still be one per line (a device named per host):
    // asked of the rows, a grouping by series.
    const oneSet =
      spec.oneSet === true ||
      Number(
        (
          await connection.runAndReadAll(
            `SELECT coalesce(max(n), 0) AS n FROM (SELECT count(DISTINCT attributes) AS n FROM ${source}
              WHERE metric = ${sqlString(spec.metric)} AND ${spec.where} AND isfinite(value) GROUP BY host, collector)`,
          )
        ).getRowsJS()[0]?.[0] ?? 0,
      ) <= 1;
    const points = oneSet
      ? `(SELECT host, collector, timestamp, value * ${scale} AS value FROM ${rows})`
      : `(SELECT host, collector, timestamp, sum(value) * ${scale} AS value FROM ${rows} GROUP BY ALL)`;
    query = `SELECT host, collector, ${bucket} AS b, avg(epoch_ms(timestamp)) AS t, avg(value) AS v,
         min(value) AS lo, epoch_ms(arg_min(timestamp, value)) AS tlo,
         max(value) AS hi, epoch_ms(arg_max(timestamp, value)) AS thi
       FROM ${points} GROUP BY ALL`;
  }
  // DuckDB cannot tell that the ends are few and the rows many: left to itself it builds the
  // join's hash table from the rows. Written as it is, the ends are the build side.
  if (spec.rate) await connection.run(`SET disabled_optimizers = 'join_order,build_side_probe_side'`);
  let reader;
  try {
    reader = await connection.runAndReadAll(`${query} ORDER BY host, collector, b`);
  } finally {
    if (spec.rate) await connection.run('RESET disabled_optimizers');
  }
  const lines = new Map<string, Line>();
  for (const r of reader.getRowObjectsJS()) {
    const host = asText(r.host);
    const collector = asText(r.collector);
    const key = `${host}\u0000${collector}`;
    let line = lines.get(key);
    if (line === undefined) {
      line = { host, collector, name: host, buckets: [] };
      lines.set(key, line);
    }
    line.buckets.push({
      t: Number(r.t),
      v: Number(r.v),
      lo: Number(r.lo),
      tlo: Number(r.tlo),
      hi: Number(r.hi),
      thi: Number(r.thi),
    });
  }
  const result = [...lines.values()];
  const collectorsOf = new Map<string, number>();
  for (const l of result) collectorsOf.set(l.host, (collectorsOf.get(l.host) ?? 0) + 1);
  for (const l of result) if ((collectorsOf.get(l.host) ?? 0) > 1) l.name = `${l.host} (${l.collector})`;
  return result;
}
