import type { Attributes, HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { formatValue } from '../../kit/prometheus/exposition.ts';
import type { Labels } from '../../kit/prometheus/labels.ts';
import {
  IDENTITY_ATTRIBUTES,
  attributesToLabels,
  formatLabels,
  targetIdentity,
} from '../../kit/prometheus/labels.ts';
import type { PrometheusType } from '../../kit/prometheus/naming.ts';
import { toPrometheusName } from '../../kit/prometheus/naming.ts';
import { ContentCache, attributesText, sameAttributes } from './content-cache.ts';
import type { PointRef, PositionSlot, SeriesRef, SourceEntries } from './content-cache.ts';

export type { PointRef, SeriesRef } from './content-cache.ts';
import { encodeLabels } from './proto.ts';

/**
 * OpenTelemetry batches → Prometheus series, with the names and labels of our `prometheus`
 * exporter (kit/prometheus/naming.ts and labels.ts, the OpenTelemetry specification's
 * Prometheus compatibility rules): a counter or gauge point is one sample; a histogram point
 * is its cumulative `_bucket{le}` series up to `+Inf`, `_sum` and `_count`; a summary (a
 * gauge of `quantile`s beside its `.sum` and `.count`, as the otlp and prometheus receivers
 * carry them) is its quantile series, `_sum` and `_count`; each resource adds a `target_info`
 * sample. The encoded labels of each series are computed once per series and cached by the
 * identity of the batch's resource, scope and attributes objects (which the SDK never changes
 * once exported). No I/O, no clock.
 */

/** Why points were not turned into samples. */
export type MappingDropReason =
  'exponential_histogram' | 'delta_temporality' | 'invalid_name' | 'reserved_name';

/** How series are named and labelled. */
export interface SeriesOptions {
  readonly namespace?: string | undefined;
  readonly externalLabels: Readonly<Record<string, string>>;
  readonly resourceToTelemetry: boolean;
  readonly addMetricSuffixes: boolean;
  readonly scopeLabels: boolean;
  readonly targetInfo: boolean;
}

/** Receives the points of a batch, in batch order. */
export interface PointSink {
  /**
   * One point: `values[i]` is the value of `point.series[i]` (valid until the next call),
   * at `timestamp` (ms). `producer` identifies the resource and scope it came from.
   */
  point(
    producer: string,
    point: PointRef,
    values: readonly number[],
    timestamp: number,
    counted: boolean,
  ): void;
  /** Points left out, by reason. */
  dropped(reason: MappingDropReason, points: number): void;
}

/** Milliseconds since the epoch of an HrTime (whole milliseconds, as Prometheus keeps them). */
export function toMs(time: HrTime): number {
  return time[0] * 1000 + Math.floor(time[1] / 1_000_000);
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
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

/** The position slots of one family of a source. */
function slotsOf(entries: SourceEntries, familyKey: string): PositionSlot[] {
  let slots = entries.positions.get(familyKey);
  if (slots === undefined) {
    slots = [];
    entries.positions.set(familyKey, slots);
  }
  return slots;
}

/** Whether cached series still fit a point: histograms must keep their bounds and `_sum`. */
function fits(ref: PointRef, value: number | Histogram): boolean {
  if (typeof value === 'number') return ref.boundaries === undefined;
  return sameBoundaries(ref.boundaries, value.buckets.boundaries) && ref.hasSum === (value.sum !== undefined);
}

function sameBoundaries(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((bound, i) => bound === b[i]);
}

/** Sorted `[name, value]` pairs with `__name__`, as the specification wants them. */
function sortedLabels(name: string, labels: Labels): [string, string][] {
  const pairs: [string, string][] = [['__name__', name]];
  for (const [k, v] of labels) if (k !== '__name__') pairs.push([k, v]);
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function seriesRef(name: string, labels: Labels): SeriesRef {
  return { key: `${name}{${formatLabels(labels)}}`, labels: encodeLabels(sortedLabels(name, labels)) };
}

/** A part of a summary: the quantile gauge's name and unit, which name all three parts. */
interface SummaryPart {
  readonly base: string;
  readonly unit: string;
}

/** The summaries of a scope: the name of each of their metrics → the summary it belongs to. */
function findSummaries(metrics: readonly MetricData[]): Map<string, SummaryPart> {
  const byName = new Map<string, MetricData>();
  for (const metric of metrics) byName.set(metric.descriptor.name, metric);
  const parts = new Map<string, SummaryPart>();
  for (const metric of metrics) {
    if (metric.dataPointType !== DataPointType.GAUGE || metric.dataPoints.length === 0) continue;
    if (!metric.dataPoints.every((p) => typeof p.attributes.quantile === 'string')) continue;
    const base = metric.descriptor.name;
    for (const sep of ['.', '_']) {
      const sum = byName.get(`${base}${sep}sum`);
      const count = byName.get(`${base}${sep}count`);
      if (sum?.dataPointType === DataPointType.SUM && count?.dataPointType === DataPointType.SUM) {
        const part = { base, unit: metric.descriptor.unit };
        parts.set(base, part);
        parts.set(sum.descriptor.name, part);
        parts.set(count.descriptor.name, part);
        break;
      }
    }
  }
  return parts;
}

/** Turns batches into points of Prometheus series; keeps the caches between batches. */
export class SeriesMapper {
  readonly #options: SeriesOptions;
  readonly #external: Labels;
  readonly #refs = new WeakMap<
    Resource,
    WeakMap<InstrumentationScope, Map<string, WeakMap<Attributes, PointRef>>>
  >();
  readonly #producers = new WeakMap<Resource, WeakMap<InstrumentationScope, string>>();
  readonly #resourceKeys = new WeakMap<Resource, string>();
  readonly #targets = new WeakMap<Resource, PointRef | null>();
  readonly #values: number[] = [];
  readonly #content = new ContentCache();

  constructor(options: SeriesOptions) {
    this.#options = options;
    this.#external = new Map(Object.entries(options.externalLabels).filter(([, v]) => v !== ''));
  }

  /** Hands every point of `batch` to `sink`, then the resource's `target_info` sample. */
  map(batch: ResourceMetrics, sink: PointSink): void {
    this.#content.beginBatch();
    const { resource } = batch;
    const identity = targetIdentity(resource.attributes);
    const resourceLabels = this.#options.resourceToTelemetry
      ? attributesToLabels(resource.attributes)
      : undefined;
    let latest = -Infinity;
    for (const scopeMetrics of batch.scopeMetrics) {
      const { scope, metrics } = scopeMetrics;
      const producer = this.#producer(resource, scope);
      let byContent: SourceEntries | undefined;
      const summaries = findSummaries(metrics);
      for (const metric of metrics) {
        const points = metric.dataPoints as DataPoint<number | Histogram>[];
        const type = exposedType(metric);
        if (type === undefined) {
          sink.dropped('exponential_histogram', points.length);
          continue;
        }
        if (
          metric.aggregationTemporality === AggregationTemporality.DELTA &&
          metric.dataPointType !== DataPointType.GAUGE
        ) {
          sink.dropped('delta_temporality', points.length);
          continue;
        }
        const family = this.#familyName(metric, type, summaries);
        if (family === undefined) {
          sink.dropped('invalid_name', points.length);
          continue;
        }
        if (this.#options.targetInfo && family === 'target_info') {
          sink.dropped('reserved_name', points.length);
          continue;
        }
        const familyKey = `${type}\u0000${family}`;
        const refs = this.#refsOf(resource, scope, familyKey);
        let slots: PositionSlot[] | undefined;
        for (let index = 0; index < points.length; index += 1) {
          const point = points[index];
          if (point === undefined) continue;
          const timestamp = toMs(point.endTime);
          if (timestamp > latest) latest = timestamp;
          let ref = refs.get(point.attributes);
          if (ref === undefined || !fits(ref, point.value)) {
            // Not this object: the same attributes in a new object (a decoded request)?
            // First where the point was last time, then by content.
            byContent ??= this.#content.source(producer);
            slots ??= slotsOf(byContent, familyKey);
            const slot = slots[index];
            if (
              slot !== undefined &&
              fits(slot.ref, point.value) &&
              sameAttributes(slot.attributes, point.attributes)
            ) {
              ref = slot.ref;
              slot.attributes = point.attributes;
            } else {
              const text = attributesText(familyKey, point.attributes);
              ref = byContent.get(text);
              if (ref === undefined || !fits(ref, point.value)) {
                const labels = this.#labels(point.attributes, scope, identity, resourceLabels);
                ref = this.#pointRef(family, labels, point.value);
                byContent.set(text, ref);
                refs.set(point.attributes, ref);
              }
              slots[index] = { attributes: point.attributes, ref };
            }
          }
          if (typeof point.value === 'number') this.#values[0] = point.value;
          else this.#histogramValues(point.value);
          sink.point(producer, ref, this.#values, timestamp, true);
        }
      }
    }
    if (this.#options.targetInfo && latest > -Infinity) {
      const ref = this.#targetInfo(resource, identity);
      if (ref !== undefined) {
        this.#values[0] = 1;
        sink.point(`${this.#resourceKey(resource)}\u0000target_info`, ref, this.#values, latest, false);
      }
    }
  }

  /** The series of a point: one for a number, `_bucket`s, `_sum` and `_count` for a histogram. */
  #pointRef(family: string, labels: Labels, value: number | Histogram): PointRef {
    if (typeof value === 'number') {
      const series = seriesRef(family, labels);
      return { series: [series], hash: fnv1a(series.key) };
    }
    labels.delete('le');
    return histogramRef(family, labels, value.buckets.boundaries, value.sum !== undefined);
  }

  /** The Prometheus name of a metric's family, or undefined when nothing valid is left. */
  #familyName(
    metric: MetricData,
    type: PrometheusType,
    summaries: Map<string, SummaryPart>,
  ): string | undefined {
    const { descriptor } = metric;
    const summary = summaries.get(descriptor.name);
    if (summary !== undefined) {
      const { base, unit } = summary;
      const name = toPrometheusName(
        { name: base, unit, type: 'gauge', isOtelGauge: false },
        { namespace: this.#options.namespace, addSuffixes: this.#options.addMetricSuffixes },
      ).name;
      if (name === '') return undefined;
      if (base === descriptor.name) return name;
      return descriptor.name.endsWith('sum') ? `${name}_sum` : `${name}_count`;
    }
    const name = toPrometheusName(
      {
        name: descriptor.name,
        unit: descriptor.unit,
        type,
        isOtelGauge: metric.dataPointType === DataPointType.GAUGE,
      },
      { namespace: this.#options.namespace, addSuffixes: this.#options.addMetricSuffixes },
    ).name;
    return name === '' ? undefined : name;
  }

  /** A point's labels, in the prometheus exporter's precedence (identity wins, then attributes). */
  #labels(
    attributes: Attributes,
    scope: InstrumentationScope,
    identity: Labels,
    resourceLabels: Labels | undefined,
  ): Labels {
    const labels: Labels = new Map(this.#external);
    if (resourceLabels !== undefined) for (const [k, v] of resourceLabels) labels.set(k, v);
    for (const [k, v] of attributesToLabels(attributes)) labels.set(k, v);
    if (this.#options.scopeLabels) {
      if (scope.name !== '') labels.set('otel_scope_name', scope.name);
      if (scope.version !== undefined && scope.version !== '')
        labels.set('otel_scope_version', scope.version);
    }
    for (const [k, v] of identity) labels.set(k, v);
    return labels;
  }

  /** Cumulative bucket counts (boundaries, then `+Inf`), `_sum` when present, `_count`. */
  #histogramValues(histogram: Histogram): void {
    const values = this.#values;
    const { boundaries, counts } = histogram.buckets;
    let cumulative = 0;
    let at = 0;
    for (let i = 0; i < boundaries.length; i += 1) {
      cumulative += counts[i] ?? 0;
      if ((boundaries[i] ?? Infinity) === Infinity) continue;
      values[at++] = cumulative;
    }
    for (let i = boundaries.length; i < counts.length; i += 1) cumulative += counts[i] ?? 0;
    values[at++] = cumulative;
    if (histogram.sum !== undefined) values[at++] = histogram.sum;
    values[at] = histogram.count;
  }

  #targetInfo(resource: Resource, identity: Labels): PointRef | undefined {
    const cached = this.#targets.get(resource);
    if (cached !== undefined) return cached ?? undefined;
    const labels = attributesToLabels(resource.attributes, IDENTITY_ATTRIBUTES);
    if (labels.size === 0) {
      this.#targets.set(resource, null);
      return undefined;
    }
    const all: Labels = new Map(this.#external);
    for (const [k, v] of labels) all.set(k, v);
    for (const [k, v] of identity) all.set(k, v);
    const series = seriesRef('target_info', all);
    const ref = { series: [series], hash: fnv1a(series.key) };
    this.#targets.set(resource, ref);
    return ref;
  }

  #refsOf(resource: Resource, scope: InstrumentationScope, family: string): WeakMap<Attributes, PointRef> {
    let byScope = this.#refs.get(resource);
    if (byScope === undefined) {
      byScope = new WeakMap();
      this.#refs.set(resource, byScope);
    }
    let byFamily = byScope.get(scope);
    if (byFamily === undefined) {
      byFamily = new Map();
      byScope.set(scope, byFamily);
    }
    let refs = byFamily.get(family);
    if (refs === undefined) {
      refs = new WeakMap();
      byFamily.set(family, refs);
    }
    return refs;
  }

  #resourceKey(resource: Resource): string {
    let key = this.#resourceKeys.get(resource);
    if (key === undefined) {
      const attributes = resource.attributes;
      key = JSON.stringify(
        Object.keys(attributes)
          .sort()
          .map((k) => [k, attributes[k]]),
      );
      this.#resourceKeys.set(resource, key);
    }
    return key;
  }

  /** The identity of a resource and scope: the source whose series end together. */
  #producer(resource: Resource, scope: InstrumentationScope): string {
    let byScope = this.#producers.get(resource);
    if (byScope === undefined) {
      byScope = new WeakMap();
      this.#producers.set(resource, byScope);
    }
    let key = byScope.get(scope);
    if (key === undefined) {
      key = `${this.#resourceKey(resource)}\u0000${JSON.stringify([scope.name, scope.version ?? '', scope.schemaUrl ?? ''])}`;
      byScope.set(scope, key);
    }
    return key;
  }
}

/** The series of a histogram point: `_bucket{le}` per finite boundary and `+Inf`, `_sum`, `_count`. */
function histogramRef(
  family: string,
  labels: Labels,
  boundaries: readonly number[],
  hasSum: boolean,
): PointRef {
  const series: SeriesRef[] = [];
  const bucket = `${family}_bucket`;
  for (const bound of boundaries) {
    if (bound === Infinity) continue;
    series.push(seriesRef(bucket, new Map(labels).set('le', formatValue(bound))));
  }
  series.push(seriesRef(bucket, new Map(labels).set('le', '+Inf')));
  if (hasSum) series.push(seriesRef(`${family}_sum`, labels));
  series.push(seriesRef(`${family}_count`, labels));
  return {
    series,
    hash: fnv1a(`${family}{${formatLabels(labels)}}`),
    boundaries: [...boundaries],
    hasSum,
  };
}
