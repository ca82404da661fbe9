import type { Fields } from './reader.ts';
import { fieldsOf, scanLines } from './reader.ts';
import { P2Quantile } from './quantile.ts';

/** The statistics of one series (metric, host, attributes) over a file. */
export interface SeriesSummary {
  metric: string;
  host: string;
  unit: string;
  type: string;
  attributes: string;
  count: number;
  mean: number;
  min: number;
  max: number;
  /** P² estimate of the 95th percentile (exact up to five values). */
  p95: number;
  /** Counters: mean increase per second from first to last row, counter resets handled. */
  rate?: number;
  first: string;
  last: string;
}

interface Accumulator {
  metric: string;
  host: string;
  unit: string;
  type: string;
  attributes: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  p95: P2Quantile;
  /** ms since the epoch. */
  first: number;
  last: number;
  previous: number;
  increase: number;
}

/** Which rows to keep. */
export interface RowFilter {
  metrics?: readonly string[];
  hosts?: readonly string[];
  /** ISO 8601 bounds, inclusive. */
  from?: string;
  to?: string;
  /** Attribute values the row must have (its JSON attributes compared as text). */
  attributes?: Readonly<Record<string, string>>;
}

/** A predicate over raw fields; cheap checks first. */
export function rowPredicate(filter: RowFilter): (f: Fields) => boolean {
  const metrics = filter.metrics === undefined ? undefined : new Set(filter.metrics);
  const hosts = filter.hosts === undefined ? undefined : new Set(filter.hosts);
  const from = filter.from === undefined ? undefined : new Date(filter.from).toISOString();
  const to = filter.to === undefined ? undefined : new Date(filter.to).toISOString();
  const attributeChecks = Object.entries(filter.attributes ?? {});
  return (f) => {
    if (metrics !== undefined && !metrics.has(f[2] ?? '')) return false;
    if (hosts !== undefined && !hosts.has(f[1] ?? '')) return false;
    // Timestamps are fixed-width ISO 8601 in UTC: text order is time order. An empty
    // timestamp asks about host and metric only.
    const t = f[0] ?? '';
    if (t !== '' && from !== undefined && t < from) return false;
    if (t !== '' && to !== undefined && t > to) return false;
    if (attributeChecks.length > 0) {
      const attributes = JSON.parse(f[6] ?? '{}') as Record<string, unknown>;
      for (const [k, v] of attributeChecks) if (String(attributes[k]) !== v) return false;
    }
    return true;
  };
}

/**
 * One pass over a CSV file: per series, count, mean, min, max, p95 and (counters) rate.
 * Memory grows with the number of series, not of rows. A row is split in full only the
 * first time its series appears (which also checks it); later rows of the series are
 * located by the six plain fields that lead a row and the one that ends it.
 */
export async function summarize(path: string, filter: RowFilter = {}): Promise<SeriesSummary[]> {
  const keep = rowPredicate(filter);
  const needsFields = filter.attributes !== undefined && Object.keys(filter.attributes).length > 0;
  const timed = filter.from !== undefined || filter.to !== undefined;
  const series = new Map<string, Map<string, Accumulator>>();
  const add = (a: Accumulator, value: number, t: number): void => {
    a.count += 1;
    a.sum += value;
    if (value < a.min) a.min = value;
    if (value > a.max) a.max = value;
    a.p95.add(value);
    if (t < a.first) a.first = t;
    if (t > a.last) a.last = t;
    // A counter that goes down was reset: its new value is all increase.
    a.increase += value >= a.previous ? value - a.previous : value;
    a.previous = value;
  };
  const full = (line: string, lineNo: number): Fields => fieldsOf(line, path, lineNo);
  await scanLines(path, (line, lineNo) => {
    // Fields 0-5 (timestamp … value) are never quoted in inframeter's files; the last
    // (start_timestamp) has no comma. The series is everything else.
    const c0 = line.indexOf(',');
    let c = c0;
    let prev = c0;
    for (let k = 0; k < 5 && c >= 0; k++) {
      if (line.charCodeAt(c + 1) === 34) {
        c = -1;
        break;
      }
      prev = c;
      c = line.indexOf(',', c + 1);
    }
    const last = line.lastIndexOf(',');
    if (c0 < 0 || c < 0 || last <= c || needsFields) {
      const f = full(line, lineNo);
      if (!keep(f)) return;
      const value = Number(f[5]);
      if (Number.isNaN(value)) return;
      const head = `\u0000${f[1] ?? ''},${f[2] ?? ''},${f[3] ?? ''},${f[4] ?? ''}`;
      const tail = `${f[6] ?? ''}\u0000${f[7] ?? ''}`;
      let inner = series.get(head);
      if (inner === undefined) {
        inner = new Map();
        series.set(head, inner);
      }
      let a = inner.get(tail);
      if (a === undefined) {
        a = accumulator(f, value);
        inner.set(tail, a);
      }
      add(a, value, isoMs(f[0] ?? '', 0));
      return;
    }
    const valueStart = prev + 1;
    // Two-level lookup: no concatenated key to build and hash for every row.
    const head = line.slice(c0 + 1, valueStart);
    const tail = line.slice(c, last);
    let inner = series.get(head);
    if (inner === undefined) {
      inner = new Map();
      series.set(own(head), inner);
    }
    let a = inner.get(tail);
    if (a === undefined) {
      const f = full(line, lineNo);
      const key = own(tail);
      // Host and metric decide for the whole series; time for each row.
      if (!keep(['', f[1] ?? '', f[2] ?? ''])) {
        inner.set(key, SKIPPED);
        return;
      }
      a = accumulator(f, Number(f[5]));
      inner.set(key, a);
    } else if (a === SKIPPED) return;
    if (timed && !keep([line.slice(0, c0), a.host, a.metric])) return;
    const value = Number(line.slice(valueStart, c));
    if (Number.isNaN(value)) return;
    add(a, value, isoMs(line, 0));
  });
  return [...series.values()]
    .flatMap((inner) => [...inner.values()])
    .filter((a) => a !== SKIPPED && a.count > 0)
    .map((a) => {
      const seconds = (a.last - a.first) / 1000;
      const summary: SeriesSummary = {
        metric: a.metric,
        host: a.host,
        unit: a.unit,
        type: a.type,
        attributes: a.attributes,
        count: a.count,
        mean: a.sum / a.count,
        min: a.min,
        max: a.max,
        p95: a.p95.value(),
        first: new Date(a.first).toISOString(),
        last: new Date(a.last).toISOString(),
      };
      if (a.type === 'counter' && seconds > 0) summary.rate = a.increase / seconds;
      return summary;
    })
    .sort(
      (x, y) =>
        x.metric.localeCompare(y.metric) ||
        x.host.localeCompare(y.host) ||
        x.attributes.localeCompare(y.attributes),
    );
}

/** A copy that does not keep the (large) text it was cut from alive. */
function own(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

const digit = (s: string, i: number): number => s.charCodeAt(i) - 48;
const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1);

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` at `at` in `s`, in ms since the epoch, without allocating. */
export function isoMs(s: string, at: number): number {
  if (s.charCodeAt(at + 23) !== 90 /* Z */ || s.charCodeAt(at + 10) !== 84 /* T */)
    return Date.parse(s.slice(at, s.indexOf(',', at)));
  return Date.UTC(
    two(s, at) * 100 + two(s, at + 2),
    two(s, at + 5) - 1,
    two(s, at + 8),
    two(s, at + 11),
    two(s, at + 14),
    two(s, at + 17),
    digit(s, at + 20) * 100 + two(s, at + 21),
  );
}

function accumulator(f: Fields, first: number): Accumulator {
  return {
    metric: own(f[2] ?? ''),
    host: own(f[1] ?? ''),
    unit: own(f[3] ?? ''),
    type: own(f[4] ?? ''),
    attributes: own(f[6] ?? ''),
    count: 0,
    sum: 0,
    min: Infinity,
    max: -Infinity,
    p95: new P2Quantile(0.95),
    first: Infinity,
    last: -Infinity,
    previous: first,
    increase: 0,
  };
}

/** A series the filter leaves out (remembered so that its rows are skipped at once). */
const SKIPPED: Accumulator = accumulator([], 0);

const fmt = (n: number | undefined): string => {
  if (n === undefined) return '';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  return abs !== 0 && (abs >= 1e9 || abs < 1e-3) ? n.toExponential(3) : String(Number(n.toPrecision(6)));
};

/** Plain-text tables, one per metric, one row per host and attribute set. */
export function formatSummary(rows: readonly SeriesSummary[]): string {
  const out: string[] = [];
  let metric = '';
  let table: string[][] = [];
  const flush = (): void => {
    if (table.length === 0) return;
    const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    for (const r of table)
      out.push(
        r
          .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
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
        'attributes',
        'n',
        'mean',
        'min',
        'max',
        'p95',
        r.type === 'counter' ? 'rate/s' : '',
      ]);
    }
    table.push([
      r.host,
      r.attributes,
      String(r.count),
      fmt(r.mean),
      fmt(r.min),
      fmt(r.max),
      fmt(r.p95),
      fmt(r.rate),
    ]);
  }
  flush();
  return out.join('\n');
}
