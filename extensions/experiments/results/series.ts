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
  t0: number;
  t1: number;
}

/**
 * The lines of a chart, computed in DuckDB. First the attribute sets kept are summed per
 * collector and timestamp (a scrape stamps all its points alike, so a sum of counters is a
 * counter), then each line is cut into `buckets` equal time buckets: memory follows lines ×
 * timestamps, then lines × buckets, never the series times the rows. Gauges keep per bucket
 * their mean and their extremes with the times they happened (so a peak between two drawn
 * points still shows); counters become the rate between the last values of consecutive
 * buckets (a decrease is a reset: the new value is the increase).
 */
export async function chartLines(
  connection: DuckDBConnection,
  source: string,
  spec: LineSpec,
): Promise<Line[]> {
  const span = Math.max(1, spec.t1 - spec.t0 + 1);
  const scale = spec.scale ?? 1;
  const bucket = `least(${String(spec.buckets - 1)}, floor((epoch_ms(timestamp) - ${String(spec.t0)}) * ${String(spec.buckets)} / ${String(span)}))::INTEGER`;
  const sums = `SELECT host, collector, timestamp, sum(value) * ${String(scale)} AS value FROM ${source}
    WHERE metric = ${sqlString(spec.metric)} AND ${spec.where} AND isfinite(value) GROUP BY ALL`;
  const query = spec.rate
    ? `WITH b AS (
         SELECT host, collector, ${bucket} AS b,
           arg_max(value, timestamp) AS last, epoch_ms(max(timestamp)) AS tlast,
           arg_min(value, timestamp) AS first, epoch_ms(min(timestamp)) AS tfirst
         FROM (${sums}) GROUP BY ALL),
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
       SELECT host, collector, b, t, v, v AS lo, t AS tlo, v AS hi, t AS thi FROM r WHERE v IS NOT NULL`
    : `SELECT host, collector, ${bucket} AS b, avg(epoch_ms(timestamp)) AS t, avg(value) AS v,
         min(value) AS lo, epoch_ms(arg_min(timestamp, value)) AS tlo,
         max(value) AS hi, epoch_ms(arg_max(timestamp, value)) AS thi
       FROM (${sums}) GROUP BY ALL`;
  const reader = await connection.runAndReadAll(`${query} ORDER BY host, collector, b`);
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
