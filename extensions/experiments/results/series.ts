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
  /**
   * At most how many distinct timestamps a line has (the most of any attribute set kept, as
   * a collector stamps all the points of a scrape alike); unknown means many.
   */
  timestamps?: number;
  /** How many lines (collectors) at most; unknown: asked of the rows when it matters. */
  lines?: number;
  /**
   * At most how many groups per line and timestamp one query may hold; by default derived
   * from DuckDB's memory limit (`BYTES_PER_GROUP` each).
   */
  maxGroups?: number;
  t0: number;
  t1: number;
}

/**
 * A line's sums per timestamp are grouped in one pass when it has at most this many
 * timestamps per bucket on average: the grouping then holds at most 4 × lines × buckets
 * groups. Beyond it, counters take two passes whose memory is the lines × buckets alone.
 */
const ONE_PASS_TIMESTAMPS_PER_BUCKET = 4;

/**
 * What one group per line and timestamp costs a chart's query at most, in DuckDB's memory:
 * the group in the hash table, its share of the grouping per bucket above it and of the
 * answer's sort. Measured on 1,000 lines at `256MB` (244 MiB for DuckDB): 250,000 groups per
 * query (1 KiB each) fitted once and ran out of memory once on 720 timestamps; a query is
 * given at most its memory limit over this many bytes of groups.
 */
const BYTES_PER_GROUP = 2048;

/** The temporary table of a counter's bucket ends (two-pass counters only). */
const ENDS_TABLE = 'inframeter_bucket_ends';

/** The temporary table of a counter's buckets, filled slice by slice. */
const BUCKETS_TABLE = 'inframeter_counter_buckets';

/** Bytes of a size as DuckDB prints it (`244.1 MiB`, `1.0 GiB`, `512 bytes`). */
export function parseByteSize(text: string): number {
  const match = /^\s*([\d.]+)\s*(bytes|[KMGT]i?B)\s*$/i.exec(text);
  if (match === null) throw new Error(`not a size: ${text}`);
  const unit = (match[2] ?? '').toUpperCase();
  if (unit === 'BYTES') return Number(match[1]);
  const base = unit.includes('I') ? 1024 : 1000;
  return Number(match[1]) * base ** ('KMGT'.indexOf(unit.charAt(0)) + 1);
}

/** At most how many groups per line and timestamp a query may hold under DuckDB's memory limit. */
async function groupBound(connection: DuckDBConnection): Promise<number> {
  const reader = await connection.runAndReadAll(`SELECT current_setting('memory_limit')`);
  return Math.max(1, Math.floor(parseByteSize(asText(reader.getRowsJS()[0]?.[0])) / BYTES_PER_GROUP));
}

/** Byte order of UTF-8, DuckDB's order of text. */
const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The lines of a chart, computed in DuckDB with memory bounded by the lines × buckets, never
 * the rows. What a point is: a line is a collector's values summed over the attribute sets
 * kept (a collector stamps all the points of a scrape alike, so the sum at a timestamp is
 * the line's value then; a sum of counters is a counter), cut into `buckets` equal time
 * buckets over [t0, t1]; b = floor((t - t0) · buckets / (t1 - t0 + 1)).
 *
 * - Counter, bucket b with sums S(t): its point is at T_b, the bucket's last timestamp, and
 *   is (S(T_b) - S(T_b-1)) / (T_b - T_b-1) per second, T_b-1 being the last timestamp of the
 *   line's previous bucket with rows; a decrease is a reset, the increase then S(T_b). The
 *   first bucket uses its own first timestamp: (S(T_b) - S(first)) / (T_b - first). So the
 *   points of a line add up to its whole increase, and only S at the buckets' ends matters.
 * - Gauge: the point is at the mean time of the bucket's timestamps, with the mean of S over
 *   them, and the lowest and highest S with their times (so a peak between two drawn points
 *   still shows).
 *
 * How it is grouped, per chart, G being the lines × timestamps (the groups of a grouping per
 * line and timestamp) and `maxGroups` what DuckDB's memory limit allows of them:
 *
 * - with one attribute set per line (`oneSet`), a gauge's rows are its points: one pass,
 *   groups = lines × buckets;
 * - a counter with at most 4 timestamps per bucket sums the rows per line and timestamp
 *   first, then takes each bucket's first and last sums: in one pass when G ≤ `maxGroups`,
 *   else slice by slice of consecutive buckets (at most `maxGroups` groups each, one pass
 *   over the rows per slice), the buckets kept in a temporary table for the rates;
 * - a counter with more timestamps takes two passes: the first finds each line's first and last
 *   timestamps per bucket (lines × buckets, kept in a temporary table so that DuckDB knows
 *   how few they are and builds the join's hash table from them), the second sums only the
 *   rows at those timestamps;
 * - a gauge with several sets per line needs every sum S(t) for its extremes: it is grouped
 *   per line and timestamp in slices of consecutive buckets, one query each, with at most
 *   `maxGroups` groups per slice (one slice when G fits). The slices read the rows again
 *   each (those of other buckets are dropped by their bucket before grouping).
 *
 * Grouping per attribute set and bucket instead (a state per series) was measured at 21.7× the
 * time of the grouping per line and timestamp on a 1,000-host file of 36 timestamps: it has
 * as many groups as rows there.
 */
export async function chartLines(
  connection: DuckDBConnection,
  source: string,
  spec: LineSpec,
): Promise<Line[]> {
  const span = Math.max(1, spec.t1 - spec.t0 + 1);
  const scale = String(spec.scale ?? 1);
  const bucket = `least(${String(spec.buckets - 1)}, floor((epoch_ms(timestamp) - ${String(spec.t0)}) * ${String(spec.buckets)} / ${String(span)}))::INTEGER`;
  const metricRows = `metric = ${sqlString(spec.metric)} AND ${spec.where} AND isfinite(value)`;
  // The rows drawn (of buckets `from` to `to`). Written out at each use rather than as a CTE,
  // which DuckDB would materialize when it is read twice.
  const rowsOf = (from = 0, to = spec.buckets - 1): string =>
    `(SELECT host, collector, timestamp, value FROM ${source} WHERE ${metricRows}${
      from > 0 || to < spec.buckets - 1 ? ` AND ${bucket} BETWEEN ${String(from)} AND ${String(to)}` : ''
    })`;
  const rows = rowsOf();
  const sumsOf = (from?: number, to?: number): string =>
    `(SELECT host, collector, timestamp, sum(value) * ${scale} AS value FROM ${rowsOf(from, to)} GROUP BY ALL)`;
  const maxGroups = spec.maxGroups ?? (await groupBound(connection));
  // The groups of a grouping per line and timestamp, asked of the rows when not given.
  let timestamps = spec.timestamps;
  let lineCount = spec.lines;
  const groups = async (): Promise<number> => {
    if (timestamps === undefined || lineCount === undefined) {
      const [lineEstimate, timeEstimate] =
        (
          await connection.runAndReadAll(
            `SELECT approx_count_distinct(host || chr(0) || collector), approx_count_distinct(timestamp)
              FROM ${source} WHERE ${metricRows}`,
          )
        ).getRowsJS()[0] ?? [];
      lineCount ??= Number(lineEstimate ?? 0);
      timestamps ??= Number(timeEstimate ?? 0);
    }
    return lineCount * timestamps;
  };
  // Slices of consecutive buckets, each grouping at most `maxGroups` lines × timestamps.
  const slices = async (): Promise<[number, number][]> => {
    const count = Math.min(spec.buckets, Math.max(1, Math.ceil((await groups()) / maxGroups)));
    const perSlice = Math.ceil(spec.buckets / count);
    const out: [number, number][] = [];
    for (let from = 0; from < spec.buckets; from += perSlice)
      out.push([from, Math.min(spec.buckets, from + perSlice) - 1]);
    return out;
  };
  const queries: string[] = [];
  const temporary: string[] = [];
  if (spec.rate) {
    let perBucket: string;
    const perBucketOf = (from?: number, to?: number): string =>
      `SELECT host, collector, ${bucket} AS b,
           arg_max(value, timestamp) AS last, epoch_ms(max(timestamp)) AS tlast,
           arg_min(value, timestamp) AS first, epoch_ms(min(timestamp)) AS tfirst
         FROM ${sumsOf(from, to)} GROUP BY ALL`;
    if ((spec.timestamps ?? Infinity) <= ONE_PASS_TIMESTAMPS_PER_BUCKET * spec.buckets) {
      const parts = await slices();
      if (parts.length === 1) perBucket = perBucketOf();
      else {
        // Too many groups for one query: the same grouping slice by slice, its buckets kept
        // in a temporary table (lines × buckets rows) for the rates across slices.
        temporary.push(BUCKETS_TABLE);
        for (const [i, [from, to]] of parts.entries())
          await connection.run(
            i === 0
              ? `CREATE OR REPLACE TEMP TABLE ${BUCKETS_TABLE} AS ${perBucketOf(from, to)}`
              : `INSERT INTO ${BUCKETS_TABLE} ${perBucketOf(from, to)}`,
          );
        perBucket = `SELECT * FROM ${BUCKETS_TABLE}`;
      }
    } else {
      await connection.run(`CREATE OR REPLACE TEMP TABLE ${ENDS_TABLE} AS
        SELECT host, collector, ${bucket} AS b, min(timestamp) AS tfirst, max(timestamp) AS tlast
        FROM ${rows} GROUP BY ALL`);
      temporary.push(ENDS_TABLE);
      perBucket = `SELECT m.host, m.collector, m.b,
           sum(r.value) FILTER (WHERE m.last) * ${scale} AS last, epoch_ms(max(m.timestamp)) AS tlast,
           sum(r.value) FILTER (WHERE NOT m.last) * ${scale} AS first, epoch_ms(min(m.timestamp)) AS tfirst
         FROM ${rows} r JOIN (
           SELECT host, collector, b, tlast AS timestamp, TRUE AS last FROM ${ENDS_TABLE}
           UNION ALL SELECT host, collector, b, tfirst AS timestamp, FALSE AS last FROM ${ENDS_TABLE}) m
           ON r.host = m.host AND r.collector = m.collector AND r.timestamp = m.timestamp
         GROUP BY m.host, m.collector, m.b`;
    }
    queries.push(`WITH b AS (${perBucket}),
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
       SELECT host, collector, b, t, v, v AS lo, t AS tlo, v AS hi, t AS thi FROM r WHERE v IS NOT NULL`);
  } else {
    // Several attribute sets in the file may still be one per line (a device named per host):
    // asked of the rows, a grouping by series.
    const oneSet =
      spec.oneSet === true ||
      Number(
        (
          await connection.runAndReadAll(
            `SELECT coalesce(max(n), 0) AS n FROM (SELECT count(DISTINCT attributes) AS n FROM ${source}
              WHERE ${metricRows} GROUP BY host, collector)`,
          )
        ).getRowsJS()[0]?.[0] ?? 0,
      ) <= 1;
    const gauge = (points: string): string =>
      `SELECT host, collector, ${bucket} AS b, avg(epoch_ms(timestamp)) AS t, avg(value) AS v,
         min(value) AS lo, epoch_ms(arg_min(timestamp, value)) AS tlo,
         max(value) AS hi, epoch_ms(arg_max(timestamp, value)) AS thi
       FROM ${points} GROUP BY ALL`;
    if (oneSet) {
      queries.push(gauge(`(SELECT host, collector, timestamp, value * ${scale} AS value FROM ${rows})`));
    } else {
      for (const [from, to] of await slices()) queries.push(gauge(sumsOf(from, to)));
    }
  }
  // Read chunk by chunk (2,048 rows each): only the lines' buckets are kept, never every row
  // of the answer at once as an object (lines × buckets of them, 320,000 for 1,000 lines).
  // Slices come in the order of their buckets, so each line's buckets stay in order.
  const lines = new Map<string, Line>();
  try {
    for (const query of queries) {
      const result = await connection.stream(`${query} ORDER BY host, collector, b`);
      for await (const rows of result.yieldRowObjectJs()) {
        for (const r of rows) {
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
      }
    }
  } finally {
    for (const table of temporary) await connection.run(`DROP TABLE IF EXISTS ${table}`);
  }
  const result = [...lines.values()];
  // A line first seen in a later slice was added after lines that follow it.
  if (queries.length > 1)
    result.sort((a, b) => utf8Order(a.host, b.host) || utf8Order(a.collector, b.collector));
  const collectorsOf = new Map<string, number>();
  for (const l of result) collectorsOf.set(l.host, (collectorsOf.get(l.host) ?? 0) + 1);
  for (const l of result) if ((collectorsOf.get(l.host) ?? 0) > 1) l.name = `${l.host} (${l.collector})`;
  return result;
}
