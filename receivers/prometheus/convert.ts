import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import type { Family, Sample } from './parse/exposition.ts';

function hr(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

const keyOf = (labels: Record<string, string>, drop: string): string =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== drop)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

/** Strips the label `drop` (le, quantile) from a label set. */
function without(labels: Record<string, string>, drop: string): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (k !== drop) out[k] = v;
  return out;
}

/**
 * A family as OpenTelemetry metrics: a counter becomes a monotonic cumulative sum (named
 * without `_total`), a gauge or an untyped sample a gauge, a histogram an explicit-bucket
 * histogram (buckets from `_bucket{le}`, `_sum`, `_count`). The JS SDK has no summary type:
 * a summary becomes a gauge of its quantiles (`quantile` attribute) and monotonic sums
 * `<name>_sum` and `<name>_count`. Each point keeps the exporter's timestamp when given.
 */
export function toMetrics(family: Family, scrapeMs: number, startMs: number): MetricData[] {
  const time = (s: Sample): HrTime => hr(s.timestamp ?? scrapeMs);
  const start = hr(startMs);
  const descriptor = (name: string, unit = family.unit) => ({
    name,
    description: family.help,
    unit,
    valueType: ValueType.DOUBLE,
  });
  const sum = (name: string, samples: Sample[]): MetricData => ({
    descriptor: descriptor(name),
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: samples.map((s) => ({
      startTime: start,
      endTime: time(s),
      attributes: { ...s.labels },
      value: s.value,
    })),
  });
  const gauge = (name: string, samples: Sample[], drop?: string): MetricData => ({
    descriptor: descriptor(name),
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: samples.map((s) => ({
      startTime: time(s),
      endTime: time(s),
      attributes:
        drop === undefined ? { ...s.labels } : { ...without(s.labels, drop), [drop]: s.labels[drop] ?? '' },
      value: s.value,
    })),
  });
  const { name, samples } = family;
  switch (family.type) {
    case 'counter': {
      const values = samples.filter((s) => !s.name.endsWith('_created'));
      return [sum(name.replace(/_total$/, ''), values)];
    }
    case 'gauge':
    case 'untyped':
      return [gauge(name, samples)];
    case 'summary': {
      const quantiles = samples.filter((s) => s.name === name);
      const out: MetricData[] = [];
      if (quantiles.length > 0) out.push(gauge(name, quantiles, 'quantile'));
      const sums = samples.filter((s) => s.name === `${name}_sum`);
      const counts = samples.filter((s) => s.name === `${name}_count`);
      if (sums.length > 0) out.push(sum(`${name}_sum`, sums));
      if (counts.length > 0)
        out.push({ ...sum(`${name}_count`, counts), descriptor: descriptor(`${name}_count`, '1') });
      return out;
    }
    case 'histogram': {
      const series = new Map<
        string,
        { labels: Attributes; buckets: [number, number][]; sum?: number; count?: number; time: HrTime }
      >();
      const entry = (s: Sample, drop: string) => {
        const key = keyOf(s.labels, drop);
        let e = series.get(key);
        if (e === undefined) {
          e = { labels: without(s.labels, drop), buckets: [], time: time(s) };
          series.set(key, e);
        }
        return e;
      };
      for (const s of samples) {
        if (s.name === `${name}_bucket`)
          entry(s, 'le').buckets.push([Number(s.labels.le === '+Inf' ? Infinity : s.labels.le), s.value]);
        else if (s.name === `${name}_sum`) entry(s, '').sum = s.value;
        else if (s.name === `${name}_count`) entry(s, '').count = s.value;
      }
      const points: DataPoint<Histogram>[] = [];
      for (const e of series.values()) {
        e.buckets.sort((a, b) => a[0] - b[0]);
        const boundaries = e.buckets.filter(([le]) => le !== Infinity).map(([le]) => le);
        // Prometheus buckets are cumulative; OpenTelemetry's are per bucket.
        const cumulative = e.buckets.map(([, c]) => c);
        const counts = cumulative.map((c, i) => c - (i === 0 ? 0 : (cumulative[i - 1] ?? 0)));
        if (boundaries.length === counts.length)
          counts.push(Math.max(0, (e.count ?? 0) - (cumulative.at(-1) ?? 0)));
        points.push({
          startTime: start,
          endTime: e.time,
          attributes: e.labels,
          value: {
            buckets: { boundaries, counts },
            count: e.count ?? cumulative.at(-1) ?? 0,
            ...(e.sum === undefined ? {} : { sum: e.sum }),
          },
        });
      }
      return [
        {
          descriptor: descriptor(name),
          dataPointType: DataPointType.HISTOGRAM,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: points,
        },
      ];
    }
  }
}
