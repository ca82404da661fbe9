import type { HrTime } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type {
  DataPoint,
  Histogram,
  MetricData,
  MetricDescriptor,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Exemplar } from '../exemplars.ts';
import { exemplarsOf, toPrometheusExemplarLabels } from '../exemplars.ts';
import { int64Of } from '../int64.ts';
import { findSummaries } from '../summary.ts';
import type { SummaryParts } from '../summary.ts';
import type { Labels } from './labels.ts';
import { IDENTITY_ATTRIBUTES, attributesToLabels, formatLabels, targetIdentity } from './labels.ts';
import type { PrometheusName, PrometheusType } from './naming.ts';
import { toPrometheusName } from './naming.ts';

/**
 * Renders `ResourceMetrics` batches as a Prometheus exposition: the text format 0.0.4 or
 * OpenMetrics 1.0.0, following the OpenTelemetry specification's Prometheus compatibility
 * rules (compatibility/prometheus_and_openmetrics.md). Pure: the same batches and options
 * always give the same text.
 */

/** The two exposition formats served. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** The `Content-Type` of each format. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** How batches are rendered; every field is optional. */
export interface ExpositionOptions {
  /** `text` (0.0.4, the default) or `openmetrics` (1.0.0, ends with `# EOF`). */
  readonly format?: ExpositionFormat | undefined;
  /** Prefix of every metric name except `target_info` (`inframeter` → `inframeter_…`). */
  readonly namespace?: string | undefined;
  /** Labels added to every series except `target_info` (the series' own labels win). */
  readonly constLabels?: Readonly<Record<string, string>> | undefined;
  /** Copy every resource attribute to a label of every series (default false). */
  readonly resourceToTelemetry?: boolean | undefined;
  /** Unit suffixes, `_ratio` and `_total` in names (default true). */
  readonly addMetricSuffixes?: boolean | undefined;
  /** Write each point's end time after its value (default false). */
  readonly timestamps?: boolean | undefined;
  /** `otel_scope_name` and `otel_scope_version` labels on every series (default true). */
  readonly scopeLabels?: boolean | undefined;
  /** A `target_info` series per job and instance, with the other resource attributes (default true). */
  readonly targetInfo?: boolean | undefined;
  /**
   * Told about what could not be exposed as asked: a metric dropped for a conflicting type,
   * an exponential histogram, two series with the same labels (the latest is kept).
   */
  readonly onProblem?: ((problem: string) => void) | undefined;
}

/**
 * What renderings with the same options can share: the label text of each series and the
 * Prometheus name of each metric, computed once instead of on every scrape. Entries are keyed
 * by the identity of the resource, scope, descriptor and attributes objects of the batches
 * (weakly: they go when the batches do), so it relies on what the SDK guarantees — a batch's
 * objects are not changed once exported — and a sender that builds new objects each time
 * only misses the cache. One cache serves one set of options (the format may differ).
 */
export class ExpositionCache {
  readonly #names = new WeakMap<MetricDescriptor, Map<string, PrometheusName>>();
  readonly #labels = new WeakMap<Resource, WeakMap<InstrumentationScope, WeakMap<Attributes, string>[]>>();

  name(
    descriptor: MetricDescriptor,
    type: PrometheusType,
    isOtelGauge: boolean,
    options: ExpositionOptions,
    /** The name to use instead of the descriptor's (a summary's, for its `.sum` metric). */
    rename?: string,
  ): PrometheusName {
    let byType = this.#names.get(descriptor);
    if (byType === undefined) {
      byType = new Map();
      this.#names.set(descriptor, byType);
    }
    const key = isOtelGauge ? `${type}/gauge` : type;
    let name = byType.get(key);
    if (name === undefined) {
      name = toPrometheusName(
        { name: rename ?? descriptor.name, unit: descriptor.unit, type, isOtelGauge },
        { namespace: options.namespace, addSuffixes: options.addMetricSuffixes },
      );
      byType.set(key, name);
    }
    return name;
  }

  /** The label texts of one resource and scope, for histograms (no `le`), summaries (no `quantile`) or the others. */
  labels(resource: Resource, scope: InstrumentationScope, type: PrometheusType): WeakMap<Attributes, string> {
    let byScope = this.#labels.get(resource);
    if (byScope === undefined) {
      byScope = new WeakMap();
      this.#labels.set(resource, byScope);
    }
    let pair = byScope.get(scope);
    if (pair === undefined) {
      pair = [new WeakMap(), new WeakMap(), new WeakMap()];
      byScope.set(scope, pair);
    }
    const texts = pair[type === 'histogram' ? 1 : type === 'summary' ? 2 : 0];
    if (texts === undefined) throw new Error('unreachable');
    return texts;
  }
}

/** The type word each format uses for a family. */
type FamilyType = PrometheusType | 'info';

/** A summary's values for one label set: its quantiles (by the `quantile` label), sum and count. */
interface SummaryValue {
  readonly quantiles: Map<string, number>;
  sum: number | undefined;
  count: number | undefined;
}

interface Series {
  readonly labels: string;
  readonly endTime: HrTime;
  readonly value: number | Histogram | SummaryValue;
  /** The exact integer of a number value beyond the safe range, when the point carries one (kit/int64.ts). */
  readonly exact?: bigint | undefined;
  /** The point's exemplars (kept for counters and histograms in OpenMetrics only). */
  readonly exemplars: readonly Exemplar[];
  /**
   * The data point it was made of (not for summaries and `target_info`). Whether its exemplars
   * are kept follows from the format and the family's type (OpenMetrics counters and histograms).
   */
  readonly point?: DataPoint<number | Histogram> | undefined;
}

interface Family {
  /** The OpenMetrics family name: the sample name, without `_total` for counters. */
  readonly key: string;
  /** The sample name (`…_total` for counters when suffixes are on). */
  readonly sampleName: string;
  readonly type: FamilyType;
  /** The OpenTelemetry name it came from first, for messages. */
  readonly source: string;
  help: string;
  unit: string;
  readonly series: Map<string, Series>;
}

const TARGET_INFO_HELP = 'Target metadata';

/** The exemplars of a series that keeps none: one shared empty list rather than one per series. */
const NO_EXEMPLARS: readonly Exemplar[] = Object.freeze([]);

function hrTimeCompare(a: HrTime, b: HrTime): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function exposedType(metric: MetricData): PrometheusType | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return undefined;
  }
}

/** Builds the families of a set of batches, in the order given; later conflicting metrics are dropped. */
function collectFamilies(
  batches: readonly ResourceMetrics[],
  options: ExpositionOptions,
  problem: (text: string) => void,
  cache: ExpositionCache,
): { target: Family; families: Map<string, Family> } {
  const target: Family = {
    key: 'target',
    sampleName: 'target_info',
    type: 'info',
    source: 'resource',
    help: TARGET_INFO_HELP,
    unit: '',
    series: new Map(),
  };
  const families = new Map<string, Family>();
  const constLabels: Labels = new Map(Object.entries(options.constLabels ?? {}).filter(([, v]) => v !== ''));
  const withTarget = options.targetInfo ?? true;
  const withScope = options.scopeLabels ?? true;
  // Only OpenMetrics has exemplars (the text format 0.0.4 has no syntax for them).
  const withExemplars = options.format === 'openmetrics';
  /** The target_info labels of each job and instance seen: one target_info per target. */
  const targetByIdentity = new Map<string, string>();

  const addSeries = (
    family: Family,
    text: string,
    endTime: HrTime,
    value: number | Histogram | SummaryValue,
    exemplars: readonly Exemplar[] = NO_EXEMPLARS,
    exact?: bigint,
    point?: DataPoint<number | Histogram>,
  ): void => {
    const existing = family.series.get(text);
    if (existing !== undefined) {
      problem(
        `${family.sampleName}{${text}} comes from more than one resource or scope; the latest point is exposed`,
      );
      if (hrTimeCompare(endTime, existing.endTime) < 0) return;
    }
    family.series.set(text, { labels: text, endTime, value, exemplars, exact, point });
  };

  for (const batch of batches) {
    const attributes = batch.resource.attributes;
    const identity = targetIdentity(attributes);
    const resourceLabels = options.resourceToTelemetry === true ? attributesToLabels(attributes) : undefined;
    let resourceHasSeries = false;

    for (const { scope, metrics } of batch.scopeMetrics) {
      const summaries = findSummaries(metrics);
      /** The summary each of its parts belongs to. */
      const partOf = new Map<MetricData, SummaryParts>();
      for (const parts of summaries.values()) {
        partOf.set(parts.sum, parts);
        partOf.set(parts.count, parts);
        if (parts.quantiles !== undefined) partOf.set(parts.quantiles, parts);
      }
      for (const metric of metrics) {
        const parts = partOf.get(metric);
        // A summary is exposed once, when its sum comes; its gauge and count come with it.
        if (parts !== undefined && metric !== parts.sum) continue;
        const descriptor =
          parts === undefined ? metric.descriptor : { ...metric.descriptor, name: parts.name };
        const type = parts === undefined ? exposedType(metric) : 'summary';
        if (type === undefined) {
          problem(
            `${descriptor.name}: exponential histograms have no text exposition (Prometheus needs native histograms over protobuf); dropped`,
          );
          continue;
        }
        const { name, unit } = cache.name(
          parts === undefined ? descriptor : metric.descriptor,
          type,
          metric.dataPointType === DataPointType.GAUGE,
          options,
          parts?.name,
        );
        if (name === '') {
          problem(`${JSON.stringify(descriptor.name)}: no valid Prometheus name can be made of it; dropped`);
          continue;
        }
        const key = type === 'counter' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
        if (withTarget && (key === 'target' || key === 'target_info')) {
          problem(`${descriptor.name}: the name ${name} is reserved for resource attributes; dropped`);
          continue;
        }
        // Families are told apart by their sample names: a gauge `x` and a counter `x_total`
        // are two families (the Go client library exposes such pairs, and Prometheus reads them).
        let family = families.get(name);
        if (family === undefined) {
          family = {
            key,
            sampleName: name,
            type,
            source: descriptor.name,
            help: descriptor.description,
            unit,
            series: new Map(),
          };
          families.set(name, family);
        } else if (family.type !== type || family.sampleName !== name) {
          problem(
            `${descriptor.name}: exposed as ${name} (${type}) but ${family.source} already is ${family.sampleName} (${family.type}); dropped`,
          );
          continue;
        } else {
          if (family.help === '') family.help = descriptor.description;
          else if (descriptor.description !== '' && descriptor.description !== family.help)
            problem(
              `${name}: descriptions differ (${JSON.stringify(family.help)}, ${JSON.stringify(descriptor.description)}); the first is kept`,
            );
          if (family.unit === '') family.unit = unit;
        }

        const texts = cache.labels(batch.resource, scope, type);
        const labelsOf = (attributesOf: Attributes): string => {
          let text = texts.get(attributesOf);
          if (text === undefined) {
            const labels: Labels = new Map(constLabels);
            if (resourceLabels !== undefined) for (const [k, v] of resourceLabels) labels.set(k, v);
            for (const [k, v] of attributesToLabels(attributesOf)) labels.set(k, v);
            if (withScope) {
              if (scope.name !== '') labels.set('otel_scope_name', scope.name);
              if (scope.version !== undefined && scope.version !== '')
                labels.set('otel_scope_version', scope.version);
            }
            for (const [k, v] of identity) labels.set(k, v);
            if (type === 'histogram') labels.delete('le');
            if (type === 'summary') labels.delete('quantile');
            text = formatLabels(labels);
            texts.set(attributesOf, text);
          }
          return text;
        };
        if (parts !== undefined) {
          for (const [text, series] of summarySeries(parts, labelsOf))
            addSeries(family, text, series.endTime, series.value);
          resourceHasSeries ||= family.series.size > 0;
          continue;
        }
        const points = metric.dataPoints as DataPoint<number | Histogram>[];
        // The specification: exemplars on monotonic sums and histograms only.
        const keepExemplars = withExemplars && (type === 'counter' || type === 'histogram');
        // Indexed: a for-of makes an iterator result per point until the function is optimized,
        // and a plan is made about once per scrape.
        for (let i = 0; i < points.length; i += 1) {
          const point = points[i];
          if (point === undefined) continue;
          addSeries(
            family,
            labelsOf(point.attributes),
            point.endTime,
            point.value,
            keepExemplars ? exemplarsOf(point) : NO_EXEMPLARS,
            int64Of(point),
            point,
          );
          resourceHasSeries = true;
        }
      }
    }

    if (withTarget && resourceHasSeries) {
      const labels = attributesToLabels(attributes, IDENTITY_ATTRIBUTES);
      if (labels.size > 0) {
        for (const [k, v] of identity) labels.set(k, v);
        const text = formatLabels(labels);
        const identityText = formatLabels(identity);
        const existing = targetByIdentity.get(identityText);
        if (existing === undefined) {
          targetByIdentity.set(identityText, text);
          target.series.set(text, { labels: text, endTime: [0, 0], value: 1, exemplars: [] });
        } else if (existing !== text) {
          problem(
            `target_info{${identityText}}: several resources share this job and instance; the first one's attributes are exposed`,
          );
        }
      }
    }
  }
  return { target, families };
}

/** A summary's series by label text (without `quantile`): its quantiles, sum and count together. */
function summarySeries(
  parts: SummaryParts,
  labelsOf: (attributes: Attributes) => string,
): Map<string, { endTime: HrTime; value: SummaryValue }> {
  const out = new Map<string, { endTime: HrTime; value: SummaryValue }>();
  const entry = (attributes: Attributes, endTime: HrTime): SummaryValue => {
    const text = labelsOf(attributes);
    let series = out.get(text);
    if (series === undefined) {
      series = { endTime, value: { quantiles: new Map(), sum: undefined, count: undefined } };
      out.set(text, series);
    } else if (hrTimeCompare(endTime, series.endTime) > 0) series.endTime = endTime;
    return series.value;
  };
  for (const p of parts.sum.dataPoints as DataPoint<number>[]) entry(p.attributes, p.endTime).sum = p.value;
  for (const p of parts.count.dataPoints as DataPoint<number>[])
    entry(p.attributes, p.endTime).count = p.value;
  for (const p of (parts.quantiles?.dataPoints ?? []) as DataPoint<number>[]) {
    const q = p.attributes.quantile;
    if (typeof q === 'string') entry(p.attributes, p.endTime).quantiles.set(q, p.value);
  }
  return out;
}

/** An integer beyond the safe range in full digits when its exact value is known; else {@link formatValue}. */
function exactOrValue(value: number, exact: bigint | undefined): string {
  return exact === undefined ? formatValue(value) : exact.toString();
}

/** A sample value as both formats spell it: `NaN`, `+Inf`, `-Inf`, or the shortest decimal. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * A number as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, which is how the Go
 * client library and Prometheus write bucket bounds: `1e+06`, `1.6384e+06`, `0.005`, `1e-05`.
 * Label values are compared as text, so `le="1e+06"` must stay exactly that.
 */
export function formatGoFloat(value: number): string {
  if (!Number.isFinite(value) || value === 0) return formatValue(value);
  const [mantissa = '', exponentText = '0'] = Math.abs(value).toExponential().split('e');
  const exponent = Number(exponentText);
  const digits = mantissa.replace('.', '').length;
  // Go: %e when the exponent is < -4 or >= the precision (6, or the digit count when that is
  // smaller and the number has no fraction digits beyond it).
  let precision = 6;
  if (precision > digits && digits >= exponent + 1) precision = digits;
  if (exponent < -4 || exponent >= precision) {
    const sign = value < 0 ? '-' : '';
    const magnitude = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${magnitude}`;
  }
  return String(value);
}

/** HELP text escaped: `\` and line feeds; OpenMetrics also escapes `"`. */
function escapeHelp(text: string, format: ExpositionFormat): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? escaped.replace(/"/g, '\\"') : escaped;
}

function withLabel(labels: string, name: string, value: string): string {
  return labels === '' ? `${name}="${value}"` : `${labels},${name}="${value}"`;
}

function sampleLine(name: string, labels: string, value: string, timestamp: string, exemplar = ''): string {
  return `${name}${labels === '' ? '' : `{${labels}}`} ${value}${timestamp}${exemplar}\n`;
}

/** OpenMetrics: an exemplar's label names and values together, in UTF-8 characters, at most. */
const EXEMPLAR_LABELS_MAX = 128;

/** The number of Unicode characters (code points) of a string: a surrogate pair is one. */
function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) n += 1;
  }
  return n;
}

/** An HrTime as OpenMetrics seconds, exactly: `1520879607.789`. */
function formatSeconds(time: HrTime): string {
  const [seconds, nanos] = time;
  if (nanos === 0) return String(seconds);
  return `${String(seconds)}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
}

/**
 * An exemplar as OpenMetrics writes it after a sample, ` # {trace_id="…"} 0.67 1520879602.89`;
 * nothing when its labels are longer than OpenMetrics allows (128 characters).
 */
function exemplarSuffix(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return '';
  const labels = toPrometheusExemplarLabels(exemplar);
  let length = 0;
  for (const [k, v] of labels) length += codePoints(k) + codePoints(v);
  if (length > EXEMPLAR_LABELS_MAX) return '';
  const time = exemplar.timestamp === undefined ? '' : ` ${formatSeconds(exemplar.timestamp)}`;
  return ` # {${formatLabels(labels)}} ${exactOrValue(exemplar.value, int64Of(exemplar))}${time}`;
}

/**
 * The exemplar of each bucket of a histogram (index `boundaries.length` is `+Inf`): each
 * exemplar goes to the bucket its value falls in, and of several the largest is kept, as the
 * specification asks of pull exporters. Buckets without one get none (the specification would
 * copy a lower bucket's; the Collector's exporter does not, and neither do we, so that what was
 * scraped comes back as it was).
 */
function bucketExemplars(
  boundaries: readonly number[],
  exemplars: readonly Exemplar[],
): Map<number, Exemplar> {
  const out = new Map<number, Exemplar>();
  for (const exemplar of exemplars) {
    let index = boundaries.findIndex((bound) => bound !== Infinity && exemplar.value <= bound);
    if (index < 0) index = boundaries.length;
    const held = out.get(index);
    if (held === undefined || exemplar.value > held.value) out.set(index, exemplar);
  }
  return out;
}

/** The lines of one histogram point: cumulative `_bucket`s up to `+Inf`, then `_sum` and `_count`. */
function histogramLines(name: string, series: Series, histogram: Histogram, timestamp: string): string {
  let out = '';
  let cumulative = 0;
  const { boundaries, counts } = histogram.buckets;
  const exemplars = series.exemplars.length === 0 ? undefined : bucketExemplars(boundaries, series.exemplars);
  for (let i = 0; i < boundaries.length; i += 1) {
    const bound = boundaries[i] ?? Infinity;
    cumulative += counts[i] ?? 0;
    if (bound === Infinity) continue;
    out += sampleLine(
      `${name}_bucket`,
      withLabel(series.labels, 'le', formatGoFloat(bound)),
      String(cumulative),
      timestamp,
      exemplarSuffix(exemplars?.get(i)),
    );
  }
  for (let i = boundaries.length; i < counts.length; i += 1) cumulative += counts[i] ?? 0;
  out += sampleLine(
    `${name}_bucket`,
    withLabel(series.labels, 'le', '+Inf'),
    String(cumulative),
    timestamp,
    exemplarSuffix(exemplars?.get(boundaries.length)),
  );
  if (histogram.sum !== undefined)
    out += sampleLine(`${name}_sum`, series.labels, formatValue(histogram.sum), timestamp);
  out += sampleLine(`${name}_count`, series.labels, formatValue(histogram.count), timestamp);
  return out;
}

/** The lines of one summary: quantiles in increasing order, then `_sum` and `_count`. */
function summaryLines(name: string, series: Series, summary: SummaryValue, timestamp: string): string {
  let out = '';
  const quantiles = [...summary.quantiles].sort(([a], [b]) => Number(a) - Number(b));
  for (const [q, v] of quantiles)
    out += sampleLine(name, withLabel(series.labels, 'quantile', q), formatValue(v), timestamp);
  if (summary.sum !== undefined)
    out += sampleLine(`${name}_sum`, series.labels, formatValue(summary.sum), timestamp);
  if (summary.count !== undefined)
    out += sampleLine(`${name}_count`, series.labels, formatValue(summary.count), timestamp);
  return out;
}

/** The HELP, TYPE (and in OpenMetrics UNIT) lines of a family. */
function familyHeader(family: Family, format: ExpositionFormat): string {
  const openMetrics = format === 'openmetrics';
  // OpenMetrics names the family without `_total` and every counter sample with it; the text
  // format names both like the samples and has no info type.
  const metadataName = openMetrics ? family.key : family.sampleName;
  const type = !openMetrics && family.type === 'info' ? 'gauge' : family.type;
  let out = '';
  if (family.help !== '') out += `# HELP ${metadataName} ${escapeHelp(family.help, format)}\n`;
  out += `# TYPE ${metadataName} ${type}\n`;
  if (openMetrics && family.unit !== '') out += `# UNIT ${metadataName} ${family.unit}\n`;
  return out;
}

/** The name of a family's samples in a format. */
function familySampleName(family: Family, format: ExpositionFormat): string {
  return format === 'openmetrics' && family.type === 'counter' ? `${family.key}_total` : family.sampleName;
}

/** A sample's timestamp: whole milliseconds (the text format's integer, OpenMetrics' seconds). */
function timestampText(endTime: HrTime, openMetrics: boolean): string {
  const ms = endTime[0] * 1000 + Math.floor(endTime[1] / 1_000_000);
  return ` ${openMetrics ? String(ms / 1000) : String(ms)}`;
}

/** A family's series in label order. */
function sortedSeries(family: Family): Series[] {
  // A series' key in the family is its label text.
  return [...family.series.values()].sort((a, b) => byString(a.labels, b.labels));
}

function renderFamily(family: Family, format: ExpositionFormat, timestamps: boolean): string {
  if (family.series.size === 0) return '';
  const openMetrics = format === 'openmetrics';
  let out = familyHeader(family, format);
  const sampleName = familySampleName(family, format);
  for (const series of sortedSeries(family)) {
    const timestamp = timestamps && family.type !== 'info' ? timestampText(series.endTime, openMetrics) : '';
    const value = series.value;
    if (typeof value === 'number')
      out += sampleLine(
        sampleName,
        series.labels,
        exactOrValue(value, series.exact),
        timestamp,
        // A counter's sample takes one exemplar: the last one the point carries.
        exemplarSuffix(series.exemplars.at(-1)),
      );
    else if ('quantiles' in value) out += summaryLines(sampleName, series, value, timestamp);
    else out += histogramLines(sampleName, series, value, timestamp);
  }
  return out;
}

/** The families of a rendering in exposition order: `target_info`, then by family name. */
function orderedFamilies(target: Family, families: Map<string, Family>): Family[] {
  // In family-name order; a gauge `x` before a counter `x` (`x_total`).
  const ordered = [...families.values()].sort(
    (a, b) => byString(a.key, b.key) || byString(a.sampleName, b.sampleName),
  );
  return [target, ...ordered];
}

/**
 * The exposition of `batches`: `target_info` first (one per job and instance), then one
 * family per name in name order, each with its HELP, TYPE (and UNIT in OpenMetrics) once and
 * its series in label order, whatever resource or scope they came from. Exponential
 * histograms and metrics whose type conflicts with an earlier one of the same name are left
 * out and reported through `options.onProblem`. Expects cumulative data (the exporter's
 * store turns deltas into totals). Renderings with the same options may share a `cache`.
 */
export function renderExposition(
  batches: readonly ResourceMetrics[],
  options: ExpositionOptions = {},
  cache: ExpositionCache = new ExpositionCache(),
): string {
  const format = options.format ?? 'text';
  const problems = new Set<string>();
  const { target, families } = collectFamilies(batches, options, (text) => problems.add(text), cache);
  const timestamps = options.timestamps ?? false;
  let out = '';
  for (const family of orderedFamilies(target, families)) out += renderFamily(family, format, timestamps);
  if (format === 'openmetrics') out += '# EOF\n';
  if (options.onProblem !== undefined) for (const text of problems) options.onProblem(text);
  return out;
}

/**
 * One sample of an {@link ExpositionPlan}: its name and label text, whose line up to the value
 * is `name{labels} ` ({@link samplePrefix}), and the point it showed. The two strings are the
 * family's and the label cache's own, so that a new plan does not build a line text per sample.
 */
export interface PlannedSample {
  /** The sample name. */
  readonly name: string;
  /** The label text without braces (`a="1",b="2"`); empty for none. */
  readonly labels: string;
  /** The point the plan was made of: its holder's current point gives the value. */
  readonly point: DataPoint<number>;
  /** Whether the point's last exemplar follows the value (OpenMetrics counters). */
  readonly exemplar: boolean;
}

/**
 * A rendering taken apart for rendering again: the fixed text (metadata lines, `target_info`)
 * before each sample, each sample's fixed prefix, and the text after the last sample. Made
 * only for expositions of plain numbers (gauges and counters) that raised no problem.
 */
export interface ExpositionPlan {
  /** `before[i]` is the fixed text before sample `i`. */
  readonly before: readonly string[];
  readonly samples: readonly PlannedSample[];
  readonly tail: string;
  readonly openMetrics: boolean;
  readonly timestamps: boolean;
}

/**
 * The plan of the rendering of `batches`, which {@link renderPlanned} turns into exactly the
 * text {@link renderExposition} gives for the same batches with newer values. Undefined when
 * the rendering would hold a histogram or summary, or report a problem: those are rendered
 * in full each time.
 */
export function planExposition(
  batches: readonly ResourceMetrics[],
  options: ExpositionOptions = {},
  cache: ExpositionCache = new ExpositionCache(),
): ExpositionPlan | undefined {
  const format = options.format ?? 'text';
  const openMetrics = format === 'openmetrics';
  let problems = 0;
  const { target, families } = collectFamilies(batches, options, () => (problems += 1), cache);
  if (problems > 0) return undefined;
  const timestamps = options.timestamps ?? false;
  const before: string[] = [];
  const samples: PlannedSample[] = [];
  let text = '';
  for (const family of orderedFamilies(target, families)) {
    if (family.series.size === 0) continue;
    text += familyHeader(family, format);
    const sampleName = familySampleName(family, format);
    const sorted = sortedSeries(family);
    // Indexed, as in collectFamilies: no iterator result per series.
    for (let i = 0; i < sorted.length; i += 1) {
      const series = sorted[i];
      if (series === undefined) continue;
      if (family.type === 'info' && typeof series.value === 'number') {
        text += sampleLine(sampleName, series.labels, formatValue(series.value), '');
        continue;
      }
      const point = series.point;
      if (point === undefined || typeof point.value !== 'number') return undefined;
      before.push(text);
      text = '';
      samples.push({
        name: sampleName,
        labels: series.labels,
        point: point as DataPoint<number>,
        // As collectFamilies keeps them: OpenMetrics counters (histograms are not planned).
        exemplar: openMetrics && family.type === 'counter',
      });
    }
  }
  if (openMetrics) text += '# EOF\n';
  return { before, samples, tail: text, openMetrics, timestamps };
}

/** A planned sample's line up to its value: `name{labels} `, or `name ` without labels. */
export function samplePrefix(sample: PlannedSample): string {
  return sample.labels === '' ? `${sample.name} ` : `${sample.name}{${sample.labels}} `;
}

/**
 * A plan rendered with the current points of its samples (`points[i]` holds sample `i`'s):
 * only the values, timestamps and exemplars are written anew. Undefined when a point no
 * longer holds a number.
 */
export function renderPlanned(
  plan: ExpositionPlan,
  points: readonly { readonly point: DataPoint<number> | DataPoint<Histogram> }[],
): string | undefined {
  const { before, samples } = plan;
  let out = '';
  for (let i = 0; i < samples.length; i += 1) {
    const sample = samples[i];
    const point = points[i]?.point;
    if (sample === undefined || point === undefined || typeof point.value !== 'number') return undefined;
    out += `${before[i] ?? ''}${samplePrefix(sample)}${plannedValueText(plan, sample, point as DataPoint<number>)}\n`;
  }
  return out + plan.tail;
}

/**
 * What a plan writes anew for one sample, between its prefix and the line feed: the value,
 * then the timestamp and exemplar when the plan has them.
 */
export function plannedValueText(
  plan: ExpositionPlan,
  sample: PlannedSample,
  point: DataPoint<number>,
): string {
  const value = exactOrValue(point.value, int64Of(point));
  if (!plan.timestamps && !sample.exemplar) return value;
  let out = value;
  if (plan.timestamps) out += timestampText(point.endTime, plan.openMetrics);
  if (sample.exemplar) out += exemplarSuffix(exemplarsOf(point).at(-1));
  return out;
}
