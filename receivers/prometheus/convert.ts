import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import type { Exemplar } from '../../kit/exemplars.ts';
import { fromPrometheusExemplar, withExemplars } from '../../kit/exemplars.ts';
import { SUMMARY_COUNT_SUFFIX, SUMMARY_SUM_SUFFIX } from '../../kit/summary.ts';
import type { Family, Sample } from './parse/exposition.ts';
import { parseNumber } from './parse/line.ts';

/**
 * Prometheus families → OpenTelemetry metrics, as the OpenTelemetry specification's
 * "Prometheus and OpenMetrics Compatibility" asks (Prometheus Metric points to OTLP): names
 * are not altered, `# UNIT` becomes the UCUM unit, `_created` the start time. Pure.
 */

function hr(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** Prometheus unit words and their UCUM units (the specification: words to abbreviations, ratio to 1). */
const UCUM: Readonly<Record<string, string>> = {
  days: 'd',
  hours: 'h',
  minutes: 'min',
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'us',
  nanoseconds: 'ns',
  bytes: 'By',
  kibibytes: 'KiBy',
  mebibytes: 'MiBy',
  gibibytes: 'GiBy',
  kilobytes: 'KBy',
  megabytes: 'MBy',
  gigabytes: 'GBy',
  bits: 'bit',
  meters: 'm',
  volts: 'V',
  amperes: 'A',
  joules: 'J',
  watts: 'W',
  grams: 'g',
  hertz: 'Hz',
  celsius: 'Cel',
  ratio: '1',
  percent: '%',
};
const PER_UCUM: Readonly<Record<string, string>> = {
  second: 's',
  minute: 'min',
  hour: 'h',
  day: 'd',
  week: 'wk',
  month: 'mo',
  year: 'a',
  meter: 'm',
};

/** An OpenMetrics unit as UCUM: `seconds` → `s`, `bytes_per_second` → `By/s`; unknown words kept. */
export function toUcum(unit: string): string {
  const per = unit.indexOf('_per_');
  if (per > 0) {
    const main = unit.slice(0, per);
    const divisor = unit.slice(per + '_per_'.length);
    return `${UCUM[main] ?? main}/${PER_UCUM[divisor] ?? divisor}`;
  }
  return UCUM[unit] ?? unit;
}

/** A sample's exemplar in OpenTelemetry's shape (kit/exemplars.ts); none when it had none. */
function exemplarsOfSample(s: Sample): Exemplar[] {
  const e = s.exemplar;
  return e === undefined ? [] : [fromPrometheusExemplar(e.labels, e.value, e.timestamp)];
}

/** The canonical text of a label set without `drop` (le, quantile, the stateset's own label). */
function keyOf(labels: Readonly<Record<string, string>>, drop = ''): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((k) => k !== drop)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** A label set without `drop`, as attributes. */
function without(labels: Readonly<Record<string, string>>, drop: string): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (k !== drop) out[k] = v;
  return out;
}

/**
 * A family as OpenTelemetry metrics, named as the exporter named it:
 *
 * - counter → monotonic cumulative sum named like its samples (`x_total`); `_created` is the start time;
 * - gauge, unknown, untyped → gauge;
 * - info → non-monotonic sum `x_info`; stateset → non-monotonic sum `x` (the specification's choices);
 * - histogram → explicit-bucket histogram `x` (cumulative `_bucket`s turned into per-bucket counts);
 * - summary → the kit's summary shape (kit/summary.ts): gauge `x` of the quantiles
 *   (`quantile` attribute), sums `x.sum` and `x.count` (the JS SDK has no summary type);
 * - gaugehistogram → gauges `x_bucket` (with `le`), `x_gcount` and `x_gsum`, as Prometheus
 *   stores them (the specification drops gauge histograms; we keep the data).
 *
 * Exemplars of counter totals and histogram buckets are kept on the points (kit/exemplars.ts:
 * `trace_id` and `span_id` as the ids, the other labels as attributes); a gaugehistogram's,
 * on gauges, are dropped, as the specification has no place for them. Each point keeps the exporter's
 * timestamp when it gave one, else `scrapeMs`; cumulative points without `_created` start at
 * `startMs`. `labels` are added to every point (the sample's own win).
 */
export function toMetrics(
  family: Family,
  scrapeMs: number,
  startMs: number,
  labels: Readonly<Record<string, string>> = {},
): MetricData[] {
  const context = { scrapeMs, startMs };
  const { name, samples } = family;
  const extra = labels;
  const attributes = (labels: Readonly<Record<string, string>>, drop = ''): Attributes => ({
    ...extra,
    ...without(labels, drop),
  });
  const time = (s: Sample): HrTime => hr(s.timestamp ?? context.scrapeMs);
  const created = new Map<string, HrTime>();
  for (const s of samples)
    if (s.name === `${name}_created` && Number.isFinite(s.value))
      created.set(keyOf(s.labels), hr(s.value * 1000));
  const startOf = (labels: Readonly<Record<string, string>>, drop = ''): HrTime =>
    created.get(keyOf(labels, drop)) ?? hr(context.startMs);
  const descriptor = (metricName: string, valueType = ValueType.DOUBLE) => ({
    name: metricName,
    description: family.help,
    unit: toUcum(family.unit),
    valueType,
  });
  const numberPoints = (list: Sample[], cumulative: boolean, exemplars = false): DataPoint<number>[] =>
    list.map((s) => {
      const point: DataPoint<number> = {
        startTime: cumulative ? startOf(s.labels) : time(s),
        endTime: time(s),
        attributes: attributes(s.labels),
        value: s.value,
      };
      return exemplars ? withExemplars(point, exemplarsOfSample(s)) : point;
    });
  const sum = (metricName: string, list: Sample[], monotonic: boolean): MetricData => ({
    descriptor: descriptor(metricName),
    dataPointType: DataPointType.SUM,
    isMonotonic: monotonic,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: numberPoints(list, true, monotonic),
  });
  const gauge = (metricName: string, list: Sample[]): MetricData => ({
    descriptor: descriptor(metricName),
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: numberPoints(list, false),
  });
  /** The samples of each distinct sample name, in order of appearance, with those names. */
  const byName = (list: Sample[]): Map<string, Sample[]> => {
    const out = new Map<string, Sample[]>();
    for (const s of list) {
      const group = out.get(s.name);
      if (group === undefined) out.set(s.name, [s]);
      else group.push(s);
    }
    return out;
  };

  switch (family.type) {
    case 'counter': {
      const out: MetricData[] = [];
      for (const [sampleName, list] of byName(samples.filter((s) => s.name !== `${name}_created`)))
        out.push(sum(sampleName, list, true));
      return out;
    }
    case 'gauge':
    case 'unknown':
    case 'untyped':
      return [gauge(name, samples)];
    case 'info':
    case 'stateset':
      return [...byName(samples)].map(([sampleName, list]) => sum(sampleName, list, false));
    case 'gaugehistogram':
      return [...byName(samples)].map(([sampleName, list]) => gauge(sampleName, list));
    case 'summary':
      return summaryMetrics(family, samples, { descriptor, attributes, startOf, time });
    case 'histogram':
      return histogramMetrics(family, samples, { descriptor, attributes, startOf, time });
  }
}

/** What the histogram and summary conversions share with {@link toMetrics}. */
interface Helpers {
  descriptor: (
    name: string,
    valueType?: ValueType,
  ) => { name: string; description: string; unit: string; valueType: ValueType };
  attributes: (labels: Readonly<Record<string, string>>, drop?: string) => Attributes;
  startOf: (labels: Readonly<Record<string, string>>, drop?: string) => HrTime;
  time: (s: Sample) => HrTime;
}

function summaryMetrics(family: Family, samples: Sample[], h: Helpers): MetricData[] {
  const { name } = family;
  const quantiles: DataPoint<number>[] = [];
  const sums: DataPoint<number>[] = [];
  const counts: DataPoint<number>[] = [];
  for (const s of samples) {
    const point = { startTime: h.startOf(s.labels, 'quantile'), endTime: h.time(s), value: s.value };
    if (s.name === name)
      quantiles.push({
        ...point,
        attributes: { ...h.attributes(s.labels, 'quantile'), quantile: s.labels.quantile ?? '' },
      });
    else if (s.name === `${name}_sum`) sums.push({ ...point, attributes: h.attributes(s.labels) });
    else if (s.name === `${name}_count`) counts.push({ ...point, attributes: h.attributes(s.labels) });
  }
  const out: MetricData[] = [];
  if (quantiles.length > 0)
    out.push({
      descriptor: h.descriptor(name),
      dataPointType: DataPointType.GAUGE,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: quantiles,
    });
  if (sums.length > 0)
    out.push({
      descriptor: h.descriptor(`${name}${SUMMARY_SUM_SUFFIX}`),
      dataPointType: DataPointType.SUM,
      isMonotonic: false,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: sums,
    });
  if (counts.length > 0)
    out.push({
      descriptor: h.descriptor(
        `${name}${SUMMARY_COUNT_SUFFIX}`,
        counts.every((p) => Number.isSafeInteger(p.value)) ? ValueType.INT : ValueType.DOUBLE,
      ),
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: counts,
    });
  return out;
}

function histogramMetrics(family: Family, samples: Sample[], h: Helpers): MetricData[] {
  const { name } = family;
  const series = new Map<
    string,
    {
      labels: Record<string, string>;
      buckets: [number, number][];
      exemplars: Exemplar[];
      sum?: number;
      count?: number;
      time: HrTime;
    }
  >();
  const entry = (s: Sample, drop: string) => {
    const key = keyOf(s.labels, drop);
    let e = series.get(key);
    if (e === undefined) {
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.labels)) if (k !== drop) labels[k] = v;
      e = { labels, buckets: [], exemplars: [], time: h.time(s) };
      series.set(key, e);
    }
    return e;
  };
  for (const s of samples) {
    if (s.name === `${name}_bucket`) {
      const e = entry(s, 'le');
      e.buckets.push([parseNumber(s.labels.le ?? '') ?? NaN, s.value]);
      e.exemplars.push(...exemplarsOfSample(s));
    } else if (s.name === `${name}_sum`) entry(s, '').sum = s.value;
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
    const point: DataPoint<Histogram> = {
      startTime: h.startOf(e.labels),
      endTime: e.time,
      attributes: h.attributes(e.labels),
      value: {
        buckets: { boundaries, counts },
        count: e.count ?? cumulative.at(-1) ?? 0,
        ...(e.sum === undefined ? {} : { sum: e.sum }),
      },
    };
    points.push(withExemplars(point, e.exemplars));
  }
  return [
    {
      descriptor: h.descriptor(name),
      dataPointType: DataPointType.HISTOGRAM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: points,
    },
  ];
}
