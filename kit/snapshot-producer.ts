import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import type {
  CollectionResult,
  DataPoint,
  MetricData,
  MetricDescriptor,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { toError } from './errors.ts';
import { readPackageVersion } from './version.ts';
import type { MetricMetadata } from './metadata.ts';

/**
 * A receiver's metrics published through an SDK `MetricProducer` (the SDK's extension point
 * for metrics from other sources, collected by the same `MetricReader` as the instruments)
 * rather than through observable instruments.
 *
 * For a scraper with tens of thousands of series per scrape (every cgroup, every process),
 * the SDK's asynchronous instruments cost several microseconds per observation: each one
 * hashes its attribute set into a sorted JSON string and goes through a dozen map operations
 * keyed by it, and allocates accumulations that become garbage at once. Here a series is
 * found by the identity of its attribute object (receivers keep one object per series for as
 * long as the cgroup or process lives), falling back to the attribute values when an object
 * is new. The points are what the SDK would report for an observable instrument with
 * cumulative temporality: the observed value, the start time of the series' first
 * observation (reset when a counter goes down), only the series observed in this collection.
 * A series not observed in a collection is forgotten (its attribute object is not kept).
 */

/** One metric of a {@link SnapshotProducer}. */
export class ProducedMetric {
  readonly descriptor: MetricDescriptor;
  /** Its position among its producer's metrics: where a holder of series per metric keeps this one's. */
  readonly index: number;
  readonly #kind: MetricMetadata['instrument'];
  readonly #integer: boolean;
  readonly #byObject = new Map<Attributes, Series>();
  readonly #byValues = new Map<string, Series>();
  #points: Point[] = [];
  /** Points of this collection so far (the array is sized ahead: see {@link begin}). */
  #count = 0;
  /** Points of the last collection. */
  #expected = 0;
  /** Points of this collection observed by attributes (not recorded through a held series). */
  #observed = 0;
  #collection = 0;
  #now: HrTime = [0, 0];
  #origin: HrTime | undefined;

  constructor(metric: MetricMetadata, valueType: ValueType, index = 0) {
    if (metric.instrument === 'histogram') throw new Error(`${metric.name}: histograms cannot be observed`);
    this.#kind = metric.instrument;
    this.#integer = valueType === ValueType.INT;
    this.index = index;
    this.descriptor = { name: metric.name, description: metric.description, unit: metric.unit, valueType };
  }

  /** Starts a collection at `now`; new sums count from `origin` when given (the boot). */
  begin(collection: number, now: HrTime, origin?: HrTime): void {
    this.#collection = collection;
    this.#now = now;
    this.#origin = origin;
    // Sized for as many points as the last collection had: an array grown point by point is
    // copied again and again, and with tens of thousands of points the copies outlive a
    // young-generation collection.
    const expected = this.#expected;
    this.#points = expected > 16 ? new Array<Point>(expected) : [];
    this.#count = 0;
    this.#observed = 0;
  }

  /**
   * A series of this metric, for a receiver that keeps it (with the cgroup or process it
   * belongs to) and records through it with {@link record}: no lookup by attributes at all.
   * The series is the receiver's: once it is dropped, nothing of it is kept here.
   */
  series(attributes: Attributes, origin?: HrTime): Series {
    return { metric: this.index, attributes, start: ZERO_TIME, last: 0, seen: -1, index: 0, origin };
  }

  /**
   * Records one value of a series made by {@link series}. A series that was not recorded in
   * the previous collection starts again (a new start time), as one found by attributes would.
   */
  record(series: Series, value: number): void {
    this.#record(series, value, series.attributes);
  }

  /**
   * Records one value of the series `attributes`. Non-finite values are dropped, and
   * fractional values of an integer metric truncated, as the SDK's instruments do. A second
   * value for the same series in one collection replaces the first.
   */
  observe(value: number, attributes: Attributes): void {
    if (!Number.isFinite(value)) return;
    let series = this.#byObject.get(attributes);
    if (series === undefined) {
      const key = valuesKey(attributes);
      series = this.#byValues.get(key);
      if (series === undefined) {
        series = this.series(attributes);
        this.#byValues.set(key, series);
      }
      this.#byObject.set(attributes, series);
    }
    // The point carries the attributes it was observed with (a new object with the same values).
    if (this.#record(series, value, attributes)) this.#observed += 1;
  }

  /**
   * One value of `series` in this collection; whether it made a new point (rather than
   * replacing the value of this collection's point, or being dropped). A series found by
   * attributes was recorded in the previous collection unless it is new: the others are
   * forgotten at its end.
   */
  #record(series: Series, value: number, attributes: Attributes): boolean {
    if (!Number.isFinite(value)) return false;
    if (this.#integer && !Number.isInteger(value)) value = Math.trunc(value);
    const collection = this.#collection;
    const points = this.#points;
    if (series.seen === collection) {
      const point = points[series.index];
      if (point !== undefined) point.value = value;
      series.last = value;
      return false;
    }
    if (series.seen === -1 && this.#kind !== 'gauge') {
      // A series seen for the first time counts from its origin (a process's start), or from
      // the producer's (the boot, for counters since boot), as the Collector's hostmetrics
      // receiver does; without either, from now.
      series.start = series.origin ?? this.#origin ?? this.#now;
    } else if (series.seen !== collection - 1 || (this.#kind === 'counter' && value < series.last))
      series.start = this.#now;
    series.last = value;
    series.seen = collection;
    // The point's index, not the point: a pointer from the long-lived series to this
    // collection's young point would cost a write barrier and a remembered-set entry.
    const index = this.#count;
    series.index = index;
    this.#count = index + 1;
    const point = { attributes, startTime: series.start, endTime: this.#now, value };
    if (index < points.length) points[index] = point;
    else points.push(point);
    return true;
  }

  /** Ends the collection: the metric's data, undefined when nothing was observed. */
  end(): MetricData | undefined {
    const points = this.#points;
    if (points.length !== this.#count) points.length = this.#count;
    this.#points = [];
    this.#expected = this.#count;
    // Forget the series found by attributes that were not observed this time (a cgroup or
    // process that is gone), and the attribute objects not observed this time of the others
    // (a receiver that builds new attribute objects at every collection would otherwise add
    // one entry per series and collection, for ever).
    if (this.#byObject.size > this.#observed) {
      for (const [attributes, series] of this.#byObject) {
        if (series.seen !== this.#collection || points[series.index]?.attributes !== attributes)
          this.#byObject.delete(attributes);
      }
    }
    if (this.#byValues.size > this.#observed) {
      for (const [key, series] of this.#byValues) {
        if (series.seen !== this.#collection) this.#byValues.delete(key);
      }
    }
    if (points.length === 0) return undefined;
    const temporality = AggregationTemporality.CUMULATIVE;
    if (this.#kind === 'gauge') {
      return {
        descriptor: this.descriptor,
        aggregationTemporality: temporality,
        dataPointType: DataPointType.GAUGE,
        dataPoints: points,
      };
    }
    return {
      descriptor: this.descriptor,
      aggregationTemporality: temporality,
      dataPointType: DataPointType.SUM,
      dataPoints: points,
      isMonotonic: this.#kind === 'counter',
    };
  }
}

/**
 * One series of a metric: what is kept about it between collections. Receivers that hold
 * series (see {@link ProducedMetric.series}) treat it as opaque.
 */
export interface Series {
  /** The {@link ProducedMetric.index} of its metric. */
  readonly metric: number;
  readonly attributes: Attributes;
  start: HrTime;
  last: number;
  /** The collection that last observed it. */
  seen: number;
  /** The index of its point in the collection that last observed it. */
  index: number;
  /** When the series' counting began (a process's start), when known: its first start time. */
  readonly origin?: HrTime | undefined;
}

/** A data point whose value can still be replaced within its collection. */
type Point = { -readonly [K in keyof DataPoint<number>]: DataPoint<number>[K] };

/**
 * The value type of a metric by its unit, as the OpenTelemetry Collector's receivers type
 * them: bytes (`By`) are integers, and so are sums of things (`{packet}`, `{operation}`, …);
 * every other unit (seconds, ratios, degrees) is a double, and so is a gauge of things (a
 * load average counts threads, as a mean).
 */
export function valueTypeOfUnit(metric: Pick<MetricMetadata, 'unit' | 'instrument'>): ValueType {
  if (metric.unit === 'By') return ValueType.INT;
  return metric.instrument !== 'gauge' && /^\{[^}]*\}$/.test(metric.unit) ? ValueType.INT : ValueType.DOUBLE;
}

/** The attribute values of a set, in key order, as one string. */
function valuesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}

/**
 * The metrics of one receiver, observed by one callback that reads the scraper's snapshot at
 * collection time (like the batch callback of observable instruments), handed to the scrape
 * runner as the scraper's `metricProducer`.
 */
export class SnapshotProducer implements MetricProducer {
  readonly #scope: { name: string; version: string };
  readonly #metrics = new Map<string, ProducedMetric>();
  readonly #observeAll: (producer: SnapshotProducer) => void;
  readonly #originOf: (() => HrTime | undefined) | undefined;
  #collection = 0;

  constructor(
    scopeName: string,
    metrics: readonly MetricMetadata[],
    enabled: (metric: MetricMetadata) => boolean,
    observeAll: (producer: SnapshotProducer) => void,
    valueType: (metric: MetricMetadata) => ValueType = valueTypeOfUnit,
    /** When sums seen for the first time began counting (the boot time), read at each collection. */
    origin?: () => HrTime | undefined,
  ) {
    this.#scope = { name: scopeName, version: readPackageVersion() };
    this.#originOf = origin;
    for (const m of metrics) {
      if (enabled(m)) this.#metrics.set(m.name, new ProducedMetric(m, valueType(m), this.#metrics.size));
    }
    this.#observeAll = observeAll;
  }

  /** The metric `name` when it is switched on: observe through it in hot loops. */
  metric(name: string): ProducedMetric | undefined {
    return this.#metrics.get(name);
  }

  /** Whether `name` is switched on (observing a switched-off metric is a no-op). */
  has(name: string): boolean {
    return this.#metrics.has(name);
  }

  /** Records one value; only meaningful inside the callback. */
  observe(name: string, value: number | undefined, attributes: Attributes = EMPTY): void {
    if (value !== undefined) this.#metrics.get(name)?.observe(value, attributes);
  }

  collect(): Promise<CollectionResult> {
    this.#collection += 1;
    const now = millisToHrTime(Date.now());
    const errors: unknown[] = [];
    let origin: HrTime | undefined;
    try {
      origin = this.#originOf?.();
    } catch (error) {
      errors.push(toError(error));
    }
    for (const metric of this.#metrics.values()) metric.begin(this.#collection, now, origin);
    try {
      this.#observeAll(this);
    } catch (error) {
      errors.push(toError(error));
    }
    const data: MetricData[] = [];
    for (const metric of this.#metrics.values()) {
      const metricData = metric.end();
      if (metricData !== undefined) data.push(metricData);
    }
    return Promise.resolve({
      resourceMetrics: {
        // The reader reports its provider's resource; only the scope metrics are taken from here.
        resource: EMPTY_RESOURCE,
        scopeMetrics: data.length === 0 ? [] : [{ scope: this.#scope, metrics: data }],
      },
      errors,
    });
  }
}

const EMPTY: Attributes = {};
const ZERO_TIME: HrTime = [0, 0];
const EMPTY_RESOURCE = emptyResource();
