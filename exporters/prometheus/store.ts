import type { Attributes, HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { int64Of, withInt64 } from '../../kit/int64.ts';
import type {
  DataPoint,
  Histogram,
  MetricData,
  MetricDescriptor,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';

/**
 * The state of a pull exporter: the latest point of every series, keyed by resource, scope,
 * metric name and point attributes, forgotten when it has not been updated for the
 * expiration time. Delta sums and histograms are added up into cumulative ones, since
 * Prometheus only understands totals. No I/O; the clock is injected.
 */

/** Why points were not stored. */
export type DropReason =
  /** Exponential histograms: no text exposition for them (Prometheus needs native histograms). */
  | 'exponential_histogram'
  /** A delta up-down counter: its total is unknown, so no gauge can be made of it. */
  | 'delta_non_monotonic_sum'
  /** Older than the point already held for the series. */
  | 'out_of_order';

/** What one batch did to the store. */
export interface IngestReport {
  /** Points stored (new series, newer points, deltas added up). */
  stored: number;
  /** Points not stored, by reason. */
  readonly dropped: Map<DropReason, number>;
}

/** What a series holds for its readers: its latest point. */
export interface SeriesHolder {
  readonly point: DataPoint<number> | DataPoint<Histogram>;
}

interface StoredSeries extends SeriesHolder {
  /** Its key in the store. */
  readonly key: string;
  /** The key's first {@link PREFIX_WIDTH} characters: its resource and scope. */
  readonly prefix: string;
  readonly resourceKey: string;
  readonly resource: Resource;
  readonly scopeKey: string;
  readonly scope: InstrumentationScope;
  descriptor: MetricDescriptor;
  readonly dataPointType: DataPointType.SUM | DataPointType.GAUGE | DataPointType.HISTOGRAM;
  readonly isMonotonic: boolean;
  point: DataPoint<number> | DataPoint<Histogram>;
  /** Clock time (ms) of the last update, for expiry. */
  updatedAt: number;
}

/** The width of a series key's resource-and-scope prefix. */
const PREFIX_WIDTH = 8;

/** A canonical text for a set of attributes: sorted keys, JSON values. */
function attributesKey(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((key) => [key, attributes[key]]),
  );
}

/**
 * The canonical texts of the attribute objects seen. The SDK hands out the same attributes
 * object for a series in every collection and never changes it, so its text is computed once.
 */
const attributesKeys = new WeakMap<Attributes, string>();

function cachedAttributesKey(attributes: Attributes): string {
  let key = attributesKeys.get(attributes);
  if (key === undefined) {
    key = attributesKey(attributes);
    attributesKeys.set(attributes, key);
  }
  return key;
}

/** The series keys of one metric by attributes object: built once per series, not per point. */
class MetricSeriesKeys {
  readonly #metricKey: string;
  readonly #keys = new WeakMap<Attributes, string>();

  constructor(metricKey: string) {
    this.#metricKey = metricKey;
  }

  get(attributes: Attributes): string {
    let key = this.#keys.get(attributes);
    if (key === undefined) {
      key = this.#metricKey + cachedAttributesKey(attributes);
      this.#keys.set(attributes, key);
    }
    return key;
  }
}

/** Series keys by metric key (looked up once per metric of a batch), then by attributes object. */
class SeriesKeys {
  readonly #byMetric = new Map<string, MetricSeriesKeys>();

  of(metricKey: string): MetricSeriesKeys {
    let keys = this.#byMetric.get(metricKey);
    if (keys === undefined) {
      keys = new MetricSeriesKeys(metricKey);
      this.#byMetric.set(metricKey, keys);
    }
    return keys;
  }
}

function scopeKeyOf(scope: InstrumentationScope): string {
  return JSON.stringify([scope.name, scope.version ?? '', scope.schemaUrl ?? '']);
}

function sameTime(a: HrTime, b: HrTime): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function isBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function sameBoundaries(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((bound, i) => bound === b[i]);
}

function copyHistogram(value: Histogram): Histogram {
  return {
    buckets: { boundaries: [...value.buckets.boundaries], counts: [...value.buckets.counts] },
    count: value.count,
    ...(value.sum === undefined ? {} : { sum: value.sum }),
    ...(value.min === undefined ? {} : { min: value.min }),
    ...(value.max === undefined ? {} : { max: value.max }),
  };
}

function addHistograms(total: Histogram, delta: Histogram): Histogram {
  const min =
    total.min === undefined
      ? delta.min
      : delta.min === undefined
        ? total.min
        : Math.min(total.min, delta.min);
  const max =
    total.max === undefined
      ? delta.max
      : delta.max === undefined
        ? total.max
        : Math.max(total.max, delta.max);
  const sum = total.sum === undefined || delta.sum === undefined ? undefined : total.sum + delta.sum;
  return {
    buckets: {
      boundaries: [...total.buckets.boundaries],
      counts: total.buckets.counts.map((count, i) => count + (delta.buckets.counts[i] ?? 0)),
    },
    count: total.count + delta.count,
    ...(sum === undefined ? {} : { sum }),
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
  };
}

/** The latest point of every series, with expiry. */
export class SeriesStore {
  readonly #expirationMs: number;
  readonly #now: () => number;
  readonly #series = new Map<string, StoredSeries>();
  /**
   * Resource and scope identities as short sortable prefixes, so that a series key is not
   * the whole resource text again for every point. Batches from one receiver share their
   * resource and scope objects: the WeakMaps skip re-serializing them.
   */
  readonly #prefixOf = new Map<string, string>();
  readonly #identityOf = new Map<string, string>();
  readonly #resourceKeys = new WeakMap<Resource, string>();
  readonly #scopeKeys = new WeakMap<InstrumentationScope, string>();
  readonly #keys = new SeriesKeys();
  /** The series keys in snapshot order; undefined once a series was added or removed. */
  #sortedKeys: string[] | undefined;
  /** Counts the changes of what a snapshot holds other than points' values and times. */
  #shape = 0;
  #lastSweep: number;

  /**
   * @param expirationMs a series not updated for longer than this is forgotten
   * @param now the clock, in milliseconds (injected by tests)
   */
  constructor(expirationMs: number, now: () => number = Date.now) {
    this.#expirationMs = expirationMs;
    this.#now = now;
    this.#lastSweep = now();
  }

  /** Number of series held (expired ones included until the next sweep). */
  get size(): number {
    return this.#series.size;
  }

  /**
   * Changes whenever a snapshot would differ in more than its points' values, times and
   * exemplars: a series came, went or changed type, or its descriptor or attributes object was
   * replaced. A series' object (what {@link holders} gives) then stays the same between changes.
   */
  get shape(): number {
    return this.#shape;
  }

  /** The series holding each point of the last snapshot (by the point object), to follow their newer points. */
  holders(): Map<object, SeriesHolder> {
    const out = new Map<object, SeriesHolder>();
    // forEach rather than for-of: no iterator result per series (this runs on every new plan).
    this.#series.forEach((series) => out.set(series.point, series));
    return out;
  }

  /** Stores the points of a batch: newer points replace older ones, deltas add up. */
  ingest(batch: ResourceMetrics): IngestReport {
    const now = this.#now();
    const report: IngestReport = { stored: 0, dropped: new Map() };
    const drop = (reason: DropReason, points: number): void => {
      if (points > 0) report.dropped.set(reason, (report.dropped.get(reason) ?? 0) + points);
    };
    let resourceKey = this.#resourceKeys.get(batch.resource);
    if (resourceKey === undefined) {
      resourceKey = attributesKey(batch.resource.attributes);
      this.#resourceKeys.set(batch.resource, resourceKey);
    }
    for (const { scope, metrics } of batch.scopeMetrics) {
      let scopeKey = this.#scopeKeys.get(scope);
      if (scopeKey === undefined) {
        scopeKey = scopeKeyOf(scope);
        this.#scopeKeys.set(scope, scopeKey);
      }
      const identity = `${resourceKey}\u0000${scopeKey}`;
      let prefix = this.#prefixOf.get(identity);
      if (prefix === undefined) {
        // Sorts in first-seen order of resource and scope; fixed width keeps it numeric.
        prefix = String(this.#prefixOf.size).padStart(PREFIX_WIDTH, '0');
        this.#prefixOf.set(identity, prefix);
        this.#identityOf.set(prefix, identity);
      }
      for (const metric of metrics) {
        if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
          drop('exponential_histogram', metric.dataPoints.length);
          continue;
        }
        const delta = metric.aggregationTemporality === AggregationTemporality.DELTA;
        const isMonotonic = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
        if (delta && metric.dataPointType === DataPointType.SUM && !isMonotonic) {
          drop('delta_non_monotonic_sum', metric.dataPoints.length);
          continue;
        }
        const keys = this.#keys.of(`${prefix}\u0000${metric.descriptor.name}\u0000`);
        const points = metric.dataPoints as (DataPoint<number> | DataPoint<Histogram>)[];
        // Indexed: a for-of makes an iterator result per point until the function is optimized.
        for (let i = 0; i < points.length; i += 1) {
          const point = points[i];
          if (point === undefined) continue;
          const key = keys.get(point.attributes);
          const previous = this.#series.get(key);
          if (previous !== undefined && isBefore(point.endTime, previous.point.endTime)) {
            drop('out_of_order', 1);
            continue;
          }
          if (
            previous !== undefined &&
            previous.dataPointType === metric.dataPointType &&
            previous.isMonotonic === isMonotonic
          ) {
            // The common case, a newer point of a known series: update it in place.
            if (previous.descriptor !== metric.descriptor || previous.point.attributes !== point.attributes)
              this.#shape += 1;
            previous.point = delta ? accumulate(metric, point, previous) : copyPoint(point);
            previous.descriptor = metric.descriptor;
            previous.updatedAt = now;
            report.stored += 1;
            continue;
          }
          if (previous === undefined) this.#sortedKeys = undefined;
          this.#shape += 1;
          this.#series.set(key, {
            key,
            prefix,
            resourceKey,
            resource: batch.resource,
            scopeKey,
            scope,
            descriptor: metric.descriptor,
            dataPointType: metric.dataPointType,
            isMonotonic,
            point: delta ? accumulate(metric, point, previous) : copyPoint(point),
            updatedAt: now,
          });
          report.stored += 1;
        }
      }
    }
    if (now - this.#lastSweep >= this.#expirationMs) this.sweep();
    return report;
  }

  /** Forgets the series not updated within the expiration time; returns how many. */
  sweep(): number {
    const now = this.#now();
    this.#lastSweep = now;
    let removed = 0;
    // Runs before every rendering: forEach makes no [key, series] pair per series, as for-of
    // over the entries did.
    this.#series.forEach((series) => {
      if (now - series.updatedAt > this.#expirationMs) {
        this.#series.delete(series.key);
        removed += 1;
      }
    });
    if (removed > 0) {
      this.#sortedKeys = undefined;
      this.#shape += 1;
    }
    return removed;
  }

  /**
   * The live series as cumulative batches, one per resource, in a stable order (resource,
   * scope, metric name, attributes). Expired series are forgotten first.
   */
  snapshot(): ResourceMetrics[] {
    this.sweep();
    // The order only changes when series come or go: most snapshots reuse it.
    this.#sortedKeys ??= this.#sortKeys();
    const keys = this.#sortedKeys;
    const batches: ResourceMetrics[] = [];
    let batch: ResourceMetrics | undefined;
    let scopeMetrics: ScopeMetrics | undefined;
    let metric: MetricData | undefined;
    let resourceKey = '';
    let scopeKey = '';
    for (let i = 0; i < keys.length; i += 1) {
      const series = this.#series.get(keys[i] ?? '');
      if (series === undefined) continue;
      if (batch === undefined || series.resourceKey !== resourceKey) {
        batch = { resource: series.resource, scopeMetrics: [] };
        batches.push(batch);
        resourceKey = series.resourceKey;
        scopeMetrics = undefined;
      }
      if (scopeMetrics === undefined || series.scopeKey !== scopeKey) {
        scopeMetrics = { scope: series.scope, metrics: [] };
        batch.scopeMetrics.push(scopeMetrics);
        scopeKey = series.scopeKey;
        metric = undefined;
      }
      if (
        metric === undefined ||
        metric.descriptor.name !== series.descriptor.name ||
        metric.dataPointType !== series.dataPointType ||
        (metric.dataPointType === DataPointType.SUM && metric.isMonotonic !== series.isMonotonic)
      ) {
        metric = toMetricData(series);
        scopeMetrics.metrics.push(metric);
      } else {
        (metric.dataPoints as (DataPoint<number> | DataPoint<Histogram>)[]).push(series.point);
      }
    }
    return batches;
  }

  /**
   * The series keys in snapshot order: resource, then scope (by their identity texts), then
   * metric name and attributes, each in text order. Sorted by identity first, then each
   * identity's keys, which share their prefix, in plain text order: a comparison that cut the
   * prefix out of both keys made two strings per comparison, and a sort is redone whenever
   * series come or go (almost every scrape in the default configuration).
   */
  #sortKeys(): string[] {
    const byPrefix = new Map<string, string[]>();
    this.#series.forEach((series) => {
      const keys = byPrefix.get(series.prefix);
      if (keys === undefined) byPrefix.set(series.prefix, [series.key]);
      else keys.push(series.key);
    });
    const identityOf = (prefix: string): string => this.#identityOf.get(prefix) ?? prefix;
    const prefixes = [...byPrefix.keys()].sort((a, b) => (identityOf(a) < identityOf(b) ? -1 : 1));
    const sorted: string[] = [];
    for (const prefix of prefixes) {
      const keys = (byPrefix.get(prefix) ?? []).sort();
      for (let i = 0; i < keys.length; i += 1) sorted.push(keys[i] ?? '');
    }
    return sorted;
  }
}

function toMetricData(series: StoredSeries): MetricData {
  const base = { descriptor: series.descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE };
  switch (series.dataPointType) {
    case DataPointType.SUM:
      return {
        ...base,
        dataPointType: DataPointType.SUM,
        isMonotonic: series.isMonotonic,
        dataPoints: [series.point as DataPoint<number>],
      };
    case DataPointType.GAUGE:
      return { ...base, dataPointType: DataPointType.GAUGE, dataPoints: [series.point as DataPoint<number>] };
    case DataPointType.HISTOGRAM:
      return {
        ...base,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: [series.point as DataPoint<Histogram>],
      };
  }
}

/** A copy the sender cannot change afterwards (histogram arrays are copied). */
function copyPoint(
  point: DataPoint<number> | DataPoint<Histogram>,
): DataPoint<number> | DataPoint<Histogram> {
  if (typeof point.value === 'number') return point;
  return { ...point, value: copyHistogram(point.value) };
}

/**
 * Adds a delta point to the total held, when it continues it (its start is the held point's
 * end, same kind of value and buckets); otherwise the delta starts a new total, which
 * Prometheus sees as a counter reset.
 */
function accumulate(
  metric: MetricData,
  point: DataPoint<number> | DataPoint<Histogram>,
  previous: StoredSeries | undefined,
): DataPoint<number> | DataPoint<Histogram> {
  const continues =
    previous !== undefined &&
    previous.dataPointType === metric.dataPointType &&
    previous.descriptor.valueType === metric.descriptor.valueType &&
    sameTime(point.startTime, previous.point.endTime);
  if (!continues) return copyPoint(point);
  const held = previous.point;
  if (typeof point.value === 'number' && typeof held.value === 'number') {
    // Integers beyond 2^53 that arrived exact (kit/int64.ts) are added exactly.
    const a = int64Of(held);
    const b = int64Of(point);
    if (
      (a !== undefined || b !== undefined) &&
      Number.isInteger(held.value) &&
      Number.isInteger(point.value)
    ) {
      const total = (a ?? BigInt(held.value)) + (b ?? BigInt(point.value));
      return withInt64({ ...point, startTime: held.startTime, value: Number(total) }, total);
    }
    return { ...point, startTime: held.startTime, value: held.value + point.value };
  }
  if (
    typeof point.value !== 'number' &&
    typeof held.value !== 'number' &&
    sameBoundaries(point.value.buckets.boundaries, held.value.buckets.boundaries)
  ) {
    return { ...point, startTime: held.startTime, value: addHistograms(held.value, point.value) };
  }
  return copyPoint(point);
}
