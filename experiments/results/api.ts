import type { RowFilter } from './summary.ts';
import { rowPredicate } from './summary.ts';
import { scanCsv } from './reader.ts';

/** A point of a series: time in ms since the epoch, and value. */
export interface Point {
  t: number;
  v: number;
}

/** One series of a metric on one host. */
export interface Series {
  metric: string;
  host: string;
  unit: string;
  type: string;
  attributes: Record<string, unknown>;
  points: Point[];
}

/**
 * The questions asked of an experiment's CSV: which hosts and metrics, a metric's series per
 * host, counters as rates, the average across hosts, within a time window and for given
 * attribute values.
 *
 *   const r = await Results.load('results.csv', { metrics: ['system.cpu.time'] });
 *   r.hosts(); r.series('system.cpu.time', { attributes: { 'cpu.mode': 'user' } });
 */
export class Results {
  readonly #series: Series[];

  private constructor(series: Series[]) {
    this.#series = series;
  }

  /** Loads the rows that pass `filter` (all by default) into memory. */
  static async load(path: string, filter: RowFilter = {}): Promise<Results> {
    const keep = rowPredicate(filter);
    const byKey = new Map<string, Series>();
    await scanCsv(path, (f) => {
      if (!keep(f)) return;
      const key = `${f[2] ?? ''}\u0000${f[1] ?? ''}\u0000${f[6] ?? ''}`;
      let s = byKey.get(key);
      if (s === undefined) {
        s = {
          metric: f[2] ?? '',
          host: f[1] ?? '',
          unit: f[3] ?? '',
          type: f[4] ?? '',
          attributes: JSON.parse(f[6] === '' || f[6] === undefined ? '{}' : f[6]) as Record<string, unknown>,
          points: [],
        };
        byKey.set(key, s);
      }
      s.points.push({ t: Date.parse(f[0] ?? ''), v: Number(f[5]) });
    });
    for (const s of byKey.values()) s.points.sort((a, b) => a.t - b.t);
    return new Results([...byKey.values()]);
  }

  hosts(): string[] {
    return [...new Set(this.#series.map((s) => s.host))].sort();
  }

  metrics(): string[] {
    return [...new Set(this.#series.map((s) => s.metric))].sort();
  }

  /** The series of a metric, optionally of one host, with given attribute values, in a window (ms). */
  series(
    metric: string,
    options: {
      host?: string;
      attributes?: Readonly<Record<string, string>>;
      from?: number;
      to?: number;
    } = {},
  ): Series[] {
    const checks = Object.entries(options.attributes ?? {});
    return this.#series
      .filter(
        (s) =>
          s.metric === metric &&
          (options.host === undefined || s.host === options.host) &&
          checks.every(([k, v]) => String(s.attributes[k]) === v),
      )
      .map((s) => ({
        ...s,
        points: s.points.filter(
          (p) =>
            (options.from === undefined || p.t >= options.from) &&
            (options.to === undefined || p.t <= options.to),
        ),
      }));
  }

  /**
   * Per host, the sum over the matching attribute sets at each timestamp (e.g. all CPUs and
   * modes of `system.cpu.time`), as one series per host.
   */
  perHost(
    metric: string,
    options: { attributes?: Readonly<Record<string, string>>; from?: number; to?: number } = {},
  ): Series[] {
    const byHost = new Map<string, Series>();
    for (const s of this.series(metric, options)) {
      let total = byHost.get(s.host);
      if (total === undefined) {
        total = { ...s, attributes: options.attributes ?? {}, points: [] };
        byHost.set(s.host, total);
      }
      total.points.push(...s.points);
    }
    for (const total of byHost.values()) {
      const sums = new Map<number, number>();
      for (const p of total.points) sums.set(p.t, (sums.get(p.t) ?? 0) + p.v);
      total.points = [...sums].map(([t, v]) => ({ t, v })).sort((a, b) => a.t - b.t);
    }
    return [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host));
  }

  /** The mean across the given series at each timestamp, timestamps rounded to `stepMs`. */
  static average(series: readonly Series[], stepMs = 1000): Point[] {
    const buckets = new Map<number, { sum: number; n: number }>();
    for (const s of series) {
      for (const p of s.points) {
        const t = Math.round(p.t / stepMs) * stepMs;
        const b = buckets.get(t) ?? { sum: 0, n: 0 };
        b.sum += p.v;
        b.n += 1;
        buckets.set(t, b);
      }
    }
    return [...buckets].map(([t, b]) => ({ t, v: b.sum / b.n })).sort((a, b) => a.t - b.t);
  }

  /** A counter as a rate per second between consecutive points; a decrease is a reset. */
  static rate(series: Series): Series {
    const points: Point[] = [];
    for (let i = 1; i < series.points.length; i++) {
      const a = series.points[i - 1];
      const b = series.points[i];
      if (a === undefined || b === undefined || b.t <= a.t) continue;
      const increase = b.v >= a.v ? b.v - a.v : b.v;
      points.push({ t: b.t, v: increase / ((b.t - a.t) / 1000) });
    }
    return { ...series, unit: `${series.unit}/s`, points };
  }
}
