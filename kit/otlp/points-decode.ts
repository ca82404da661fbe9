import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { DataPoint, ExponentialHistogram, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { Exemplar as PointExemplar } from '../exemplars.ts';
import { withExemplars } from '../exemplars.ts';
import { int64FromBits, withInt64 } from '../int64.ts';
import type { AttributeCache } from './attribute-cache.ts';
import { CommonDecoder } from './common-decode.ts';
import {
  Buckets,
  Exemplar,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  NumberDataPoint,
  SummaryDataPoint,
  ValueAtQuantile,
  WireType,
} from './fields.ts';
import { FLAG_NO_RECORDED_VALUE } from './proto.ts';
import { bitsToHrTime } from './time.ts';

/**
 * The data point messages of `opentelemetry/proto/metrics/v1/metrics.proto` —
 * NumberDataPoint, HistogramDataPoint, ExponentialHistogramDataPoint (with its Buckets),
 * SummaryDataPoint (with its ValueAtQuantile) and Exemplar — decoded into the SDK's data
 * points, with the outcome of every point counted: converted, rejected as invalid, or
 * skipped for having no recorded value. The metrics decoder (decode.ts) extends it.
 *
 * An `as_int` outside the safe range of a double (±(2^53 − 1)) keeps its exact value on the
 * point as kit/int64.ts has it (`int64`, a bigint beside the nearest double); a safe one
 * costs nothing more than before.
 *
 * A point's exemplars are carried on the SDK point as kit/exemplars.ts has them: filtered
 * attributes, value (`valueType` INT when it came as `as_int`, with its exact integer when it
 * is outside the safe range, as kit/int64.ts has it), time (undefined when zero,
 * proto3's unset) and the trace and span ids as lowercase hex (left out when empty or not
 * 16 and 8 bytes long). The exemplars of a point that is not converted are counted in
 * `exemplarsDropped`.
 */

const NO_EXEMPLARS: readonly PointExemplar[] = [];
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

/** The name, description and unit of the metric whose points are read. */
export interface MetricNames {
  name: string;
  description: string;
  unit: string;
}

/** Where the fields every data point message has are, in one point message. */
interface PointLayout {
  readonly message: string;
  readonly attributes: number;
  readonly startTime: number;
  readonly time: number;
  readonly flags: number;
  /** -1: the message has no exemplars (SummaryDataPoint). */
  readonly exemplars: number;
}

const NUMBER_POINT: PointLayout = {
  message: 'NumberDataPoint',
  attributes: NumberDataPoint.attributes,
  startTime: NumberDataPoint.start_time_unix_nano,
  time: NumberDataPoint.time_unix_nano,
  flags: NumberDataPoint.flags,
  exemplars: NumberDataPoint.exemplars,
};
const HISTOGRAM_POINT: PointLayout = {
  message: 'HistogramDataPoint',
  attributes: HistogramDataPoint.attributes,
  startTime: HistogramDataPoint.start_time_unix_nano,
  time: HistogramDataPoint.time_unix_nano,
  flags: HistogramDataPoint.flags,
  exemplars: HistogramDataPoint.exemplars,
};
const EXPONENTIAL_POINT: PointLayout = {
  message: 'ExponentialHistogramDataPoint',
  attributes: ExponentialHistogramDataPoint.attributes,
  startTime: ExponentialHistogramDataPoint.start_time_unix_nano,
  time: ExponentialHistogramDataPoint.time_unix_nano,
  flags: ExponentialHistogramDataPoint.flags,
  exemplars: ExponentialHistogramDataPoint.exemplars,
};
const SUMMARY_POINT: PointLayout = {
  message: 'SummaryDataPoint',
  attributes: SummaryDataPoint.attributes,
  startTime: SummaryDataPoint.start_time_unix_nano,
  time: SummaryDataPoint.time_unix_nano,
  flags: SummaryDataPoint.flags,
  exemplars: -1,
};

/** Fields of one data point that every kind has. */
interface PointFields {
  startLow: number;
  startHigh: number;
  timeLow: number;
  timeHigh: number;
  flags: number;
  /** Undefined when the point has none. */
  exemplars: PointExemplar[] | undefined;
  attributes: Attributes;
}

/** The last fixed64 time read (its two 32-bit halves) and its HrTime, shared while it repeats. */
class HrTimeSlot {
  #low = 0;
  #high = 0;
  #time: HrTime = [0, 0];

  of(low: number, high: number): HrTime {
    if (low === this.#low && high === this.#high) return this.#time;
    this.#low = low;
    this.#high = high;
    this.#time = bitsToHrTime(low, high);
    return this.#time;
  }
}

export class PointsDecoder extends CommonDecoder {
  readonly #cache: AttributeCache | undefined;
  /** Whether points are counted and converted (false: only validated). */
  readonly #live: boolean;
  points = 0;
  rejected = 0;
  exemplarsDropped = 0;
  noRecordedValue = 0;
  readonly errors = new Set<string>();
  // The points of a request mostly share one start and one end, which alternate point after
  // point, so each has its own slot.
  readonly #startTime = new HrTimeSlot();
  readonly #endTime = new HrTimeSlot();
  /** Tag ends of the attribute KeyValues of the point being read. */
  readonly #attributeRanges: number[] = [];
  /** Tag ends of the filtered attributes of the exemplar being read. */
  readonly #exemplarRanges: number[] = [];
  readonly #fields: PointFields = {
    startLow: 0,
    startHigh: 0,
    timeLow: 0,
    timeHigh: 0,
    flags: 0,
    exemplars: undefined,
    attributes: {},
  };

  constructor(
    buf: Buffer,
    path: readonly string[],
    cache: AttributeCache | undefined,
    resources: Map<string, Resource> | undefined,
    live: boolean,
  ) {
    super(buf, path, resources);
    this.#cache = cache;
    this.#live = live;
  }

  /** Counts `count` points rejected as invalid, with why (once per distinct message). */
  protected reject(count: number, message: string): void {
    if (count <= 0 || !this.#live) return;
    this.rejected += count;
    this.errors.add(message);
  }

  // ─── data points ───────────────────────────────────────────────────────────

  /**
   * Reads the fields every data point has (attributes, times, flags, exemplars) of the point
   * message starting here; `onField` reads the others (true when it read one).
   */
  #point(depth: number, layout: PointLayout, onField: (field: number, type: number) => boolean): PointFields {
    const outer = this.enter(depth, layout.message);
    const ranges = this.#attributeRanges;
    ranges.length = 0;
    // The attribute fields' first and last byte: one cache key when they are contiguous.
    let first = -1;
    let last = -1;
    let contiguous = true;
    let startLow = 0;
    let startHigh = 0;
    let timeLow = 0;
    let timeHigh = 0;
    let flags = 0;
    let exemplars: PointExemplar[] | undefined;
    while (this.pos < this.len) {
      const tagStart = this.pos;
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === layout.attributes && type === WireType.LEN) {
        ranges.push(this.pos);
        const end = this.end();
        if (first < 0) first = tagStart;
        else if (last !== tagStart) contiguous = false;
        this.pos = end;
        last = end;
        continue;
      }
      if (field === layout.startTime && type === WireType.I64) {
        this.fixed64();
        startLow = this.low;
        startHigh = this.high;
        continue;
      }
      if (field === layout.time && type === WireType.I64) {
        this.fixed64();
        timeLow = this.low;
        timeHigh = this.high;
        continue;
      }
      if (field === layout.flags && type === WireType.VARINT) {
        flags = this.uint32();
        continue;
      }
      if (field === layout.exemplars && type === WireType.LEN) {
        (exemplars ??= []).push(this.#exemplar(depth + 1));
        continue;
      }
      if (onField(field, type)) continue;
      this.skip(type, field, depth);
    }
    const attributes = this.#live
      ? this.#pointAttributes(first, last, contiguous, depth + 1)
      : this.attributesAt(this.#attributeRanges, depth + 1).attributes;
    this.pos = this.len;
    this.leave(outer);
    // One object for every point: read before the next point is.
    const p = this.#fields;
    p.startLow = startLow;
    p.startHigh = startHigh;
    p.timeLow = timeLow;
    p.timeHigh = timeHigh;
    p.flags = flags;
    p.exemplars = exemplars;
    p.attributes = attributes;
    return p;
  }

  /** A point's attributes from the KeyValue ranges gathered while reading it. */
  #pointAttributes(first: number, last: number, contiguous: boolean, depth: number): Attributes {
    const ranges = this.#attributeRanges;
    if (ranges.length === 0) return {};
    const cache = contiguous ? this.#cache : undefined;
    const cached = cache?.get(this.buf, first, last);
    if (cached !== undefined) return cached;
    const { attributes, simple } = this.attributesAt(ranges, depth);
    if (cache !== undefined && simple) {
      Object.freeze(attributes);
      cache.set(this.buf, first, last, attributes);
    }
    return attributes;
  }

  /** An Exemplar, as kit/exemplars.ts has it. */
  #exemplar(depth: number): PointExemplar {
    const outer = this.enter(depth, 'Exemplar');
    const ranges = this.#exemplarRanges;
    ranges.length = 0;
    let timeLow = 0;
    let timeHigh = 0;
    let value = 0;
    let exact: bigint | undefined;
    let valueType: ValueType | undefined;
    let traceId: string | undefined;
    let spanId: string | undefined;
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === Exemplar.filtered_attributes && type === WireType.LEN) {
        ranges.push(this.pos);
        this.pos = this.end();
      } else if ((field === Exemplar.span_id || field === Exemplar.trace_id) && type === WireType.LEN) {
        const end = this.end();
        const length = end - this.pos;
        // A later occurrence replaces an earlier one, as protobufjs has it.
        const id = this.buf.toString('hex', this.pos, end);
        if (field === Exemplar.trace_id) traceId = length === TRACE_ID_BYTES ? id : undefined;
        else spanId = length === SPAN_ID_BYTES ? id : undefined;
        this.pos = end;
      } else if (field === Exemplar.time_unix_nano && type === WireType.I64) {
        this.fixed64();
        timeLow = this.low;
        timeHigh = this.high;
      } else if (field === Exemplar.as_double && type === WireType.I64) {
        value = this.double();
        valueType = ValueType.DOUBLE;
      } else if (field === Exemplar.as_int && type === WireType.I64) {
        value = this.sfixed64Number();
        exact = Number.isSafeInteger(value) ? undefined : int64FromBits(this.low, this.high);
        valueType = ValueType.INT;
      } else this.skip(type, field, depth);
    }
    const filteredAttributes = ranges.length === 0 ? {} : this.attributesAt(ranges, depth + 1).attributes;
    this.leave(outer);
    const exemplar: {
      filteredAttributes: Attributes;
      value: number;
      timestamp: HrTime | undefined;
      traceId?: string;
      spanId?: string;
      valueType?: ValueType;
      int64?: bigint;
    } = {
      filteredAttributes,
      value,
      timestamp: timeLow === 0 && timeHigh === 0 ? undefined : bitsToHrTime(timeLow, timeHigh),
    };
    if (traceId !== undefined) exemplar.traceId = traceId;
    if (spanId !== undefined) exemplar.spanId = spanId;
    if (valueType !== undefined) exemplar.valueType = valueType;
    if (exact !== undefined && valueType === ValueType.INT) exemplar.int64 = exact;
    return exemplar;
  }

  /** NumberDataPoints (of a Gauge or a Sum). */
  protected numberPoints(
    name: string,
    ranges: readonly number[],
    depth: number,
  ): { dataPoints: DataPoint<number>[]; valueType: ValueType } {
    const dataPoints: DataPoint<number>[] = [];
    let allInt = true;
    let missing = 0;
    // Written by onField while a point is read: which of the value oneof, the value, and the
    // exact integer of an as_int outside the safe range (kit/int64.ts).
    const v: { kind: number; value: number; exact: bigint | undefined } = {
      kind: 0,
      value: 0,
      exact: undefined,
    };
    // A function, so that the reads after #point are not narrowed to the reset values.
    const reset = (): void => {
      v.kind = 0;
      v.value = 0;
      v.exact = undefined;
    };
    const onField = (field: number, type: number): boolean => {
      if (field === NumberDataPoint.as_double && type === WireType.I64) {
        v.value = this.double();
        v.kind = field;
        return true;
      }
      if (field === NumberDataPoint.as_int && type === WireType.I64) {
        v.value = this.sfixed64Number();
        v.exact = Number.isSafeInteger(v.value) ? undefined : int64FromBits(this.low, this.high);
        v.kind = field;
        return true;
      }
      return false;
    };
    for (const start of ranges) {
      this.pos = start;
      reset();
      const p = this.#point(depth, NUMBER_POINT, onField);
      const { kind, value, exact } = v;
      if (kind === NumberDataPoint.as_double) allInt = false;
      else if (kind !== NumberDataPoint.as_int) {
        if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) this.noRecordedValue += 1;
        else missing += 1;
        this.exemplarsDropped += p.exemplars?.length ?? 0;
        continue;
      }
      let point: DataPoint<number> = {
        startTime: this.#startTime.of(p.startLow, p.startHigh),
        endTime: this.#endTime.of(p.timeLow, p.timeHigh),
        attributes: p.attributes,
        value,
      };
      if (exact !== undefined && kind === NumberDataPoint.as_int) point = withInt64(point, exact);
      dataPoints.push(p.exemplars === undefined ? point : withExemplars(point, p.exemplars));
    }
    this.reject(missing, `metric "${name}": a number data point has no value`);
    return { dataPoints, valueType: allInt && dataPoints.length > 0 ? ValueType.INT : ValueType.DOUBLE };
  }

  /** A repeated fixed64 or double field, packed or not, into `out`. */
  #repeated64(type: number, out: number[], read: () => number): boolean {
    if (type === WireType.I64) {
      out.push(read());
      return true;
    }
    if (type !== WireType.LEN) return false;
    const end = this.end();
    const count = (end - this.pos) >>> 3;
    for (let i = 0; i < count; i++) out.push(read());
    if (this.pos !== end) throw this.error('packed field: length is not a multiple of 8 bytes');
    return true;
  }

  protected histogramPoints(name: string, ranges: readonly number[], depth: number): DataPoint<Histogram>[] {
    const out: DataPoint<Histogram>[] = [];
    let invalid = 0;
    // Written by onField while a point is read.
    const h: {
      count: number;
      sum: number | undefined;
      min: number | undefined;
      max: number | undefined;
      counts: number[];
      bounds: number[];
    } = { count: 0, sum: undefined, min: undefined, max: undefined, counts: [], bounds: [] };
    // A function, so that the reads after #point are not narrowed to the reset values.
    const reset = (): void => {
      h.count = 0;
      h.sum = h.min = h.max = undefined;
      h.counts = [];
      h.bounds = [];
    };
    const fixed = (): number => this.fixed64Number();
    const double = (): number => this.double();
    const onField = (field: number, type: number): boolean => {
      switch (field) {
        case HistogramDataPoint.count:
          if (type !== WireType.I64) return false;
          h.count = this.fixed64Number();
          return true;
        case HistogramDataPoint.sum:
          if (type !== WireType.I64) return false;
          h.sum = this.double();
          return true;
        case HistogramDataPoint.bucket_counts:
          return this.#repeated64(type, h.counts, fixed);
        case HistogramDataPoint.explicit_bounds:
          return this.#repeated64(type, h.bounds, double);
        case HistogramDataPoint.min:
          if (type !== WireType.I64) return false;
          h.min = this.double();
          return true;
        case HistogramDataPoint.max:
          if (type !== WireType.I64) return false;
          h.max = this.double();
          return true;
        default:
          return false;
      }
    };
    for (const start of ranges) {
      this.pos = start;
      reset();
      const p = this.#point(depth, HISTOGRAM_POINT, onField);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        this.exemplarsDropped += p.exemplars?.length ?? 0;
        continue;
      }
      const { count, sum, min, max, counts, bounds } = h;
      if (counts.length !== 0 && counts.length !== bounds.length + 1) {
        invalid += 1;
        this.exemplarsDropped += p.exemplars?.length ?? 0;
        continue;
      }
      const value: Histogram = { buckets: { boundaries: bounds, counts }, count };
      if (sum !== undefined) value.sum = sum;
      if (min !== undefined) value.min = min;
      if (max !== undefined) value.max = max;
      out.push(
        withExemplars(
          {
            startTime: this.#startTime.of(p.startLow, p.startHigh),
            endTime: this.#endTime.of(p.timeLow, p.timeHigh),
            attributes: p.attributes,
            value,
          },
          p.exemplars ?? NO_EXEMPLARS,
        ),
      );
    }
    this.reject(
      invalid,
      `metric "${name}": histogram bucket_counts must have one more entry than explicit_bounds`,
    );
    return out;
  }

  /** ExponentialHistogramDataPoint.Buckets into `state` (merging). */
  #buckets(state: { offset: number; bucketCounts: number[] }, depth: number): void {
    const outer = this.enter(depth, 'Buckets');
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === Buckets.offset && type === WireType.VARINT) state.offset = this.sint32();
      else if (field === Buckets.bucket_counts && type === WireType.VARINT)
        state.bucketCounts.push(this.uint64());
      else if (field === Buckets.bucket_counts && type === WireType.LEN) {
        const end = this.end();
        const inner = this.len;
        this.len = end;
        while (this.pos < end) state.bucketCounts.push(this.uint64());
        if (this.pos !== end) throw this.truncated();
        this.len = inner;
      } else this.skip(type, field, depth);
    }
    this.leave(outer);
  }

  protected exponentialPoints(ranges: readonly number[], depth: number): DataPoint<ExponentialHistogram>[] {
    const out: DataPoint<ExponentialHistogram>[] = [];
    type BucketCounts = { offset: number; bucketCounts: number[] };
    // Written by onField while a point is read.
    const e: {
      count: number;
      sum: number | undefined;
      min: number | undefined;
      max: number | undefined;
      scale: number;
      zeroCount: number;
      positive: BucketCounts;
      negative: BucketCounts;
    } = {
      count: 0,
      sum: undefined,
      min: undefined,
      max: undefined,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 0, bucketCounts: [] },
      negative: { offset: 0, bucketCounts: [] },
    };
    // A function, so that the reads after #point are not narrowed to the reset values.
    const reset = (): void => {
      e.count = e.zeroCount = e.scale = 0;
      e.sum = e.min = e.max = undefined;
      e.positive = { offset: 0, bucketCounts: [] };
      e.negative = { offset: 0, bucketCounts: [] };
    };
    const onField = (field: number, type: number): boolean => {
      switch (field) {
        case ExponentialHistogramDataPoint.count:
          if (type !== WireType.I64) return false;
          e.count = this.fixed64Number();
          return true;
        case ExponentialHistogramDataPoint.sum:
          if (type !== WireType.I64) return false;
          e.sum = this.double();
          return true;
        case ExponentialHistogramDataPoint.scale:
          if (type !== WireType.VARINT) return false;
          e.scale = this.sint32();
          return true;
        case ExponentialHistogramDataPoint.zero_count:
          if (type !== WireType.I64) return false;
          e.zeroCount = this.fixed64Number();
          return true;
        case ExponentialHistogramDataPoint.positive:
          if (type !== WireType.LEN) return false;
          this.#buckets(e.positive, depth + 1);
          return true;
        case ExponentialHistogramDataPoint.negative:
          if (type !== WireType.LEN) return false;
          this.#buckets(e.negative, depth + 1);
          return true;
        case ExponentialHistogramDataPoint.min:
          if (type !== WireType.I64) return false;
          e.min = this.double();
          return true;
        case ExponentialHistogramDataPoint.max:
          if (type !== WireType.I64) return false;
          e.max = this.double();
          return true;
        default:
          // zero_threshold has no place in the SDK's model: skipped.
          return false;
      }
    };
    for (const start of ranges) {
      this.pos = start;
      reset();
      const p = this.#point(depth, EXPONENTIAL_POINT, onField);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        this.exemplarsDropped += p.exemplars?.length ?? 0;
        continue;
      }
      const { count, sum, min, max, scale, zeroCount, positive, negative } = e;
      const value: ExponentialHistogram = { count, scale, zeroCount, positive, negative };
      if (sum !== undefined) value.sum = sum;
      if (min !== undefined) value.min = min;
      if (max !== undefined) value.max = max;
      out.push(
        withExemplars(
          {
            startTime: this.#startTime.of(p.startLow, p.startHigh),
            endTime: this.#endTime.of(p.timeLow, p.timeHigh),
            attributes: p.attributes,
            value,
          },
          p.exemplars ?? NO_EXEMPLARS,
        ),
      );
    }
    return out;
  }

  /** SummaryDataPoint.ValueAtQuantile: [quantile, value]. */
  #valueAtQuantile(depth: number): [number, number] {
    const outer = this.enter(depth, 'ValueAtQuantile');
    let quantile = 0;
    let value = 0;
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === ValueAtQuantile.quantile && type === WireType.I64) quantile = this.double();
      else if (field === ValueAtQuantile.value && type === WireType.I64) value = this.double();
      else this.skip(type, field, depth);
    }
    this.leave(outer);
    return [quantile, value];
  }

  /** SummaryDataPoints → the kit's summary shape (kit/summary.ts). */
  protected summary(metric: MetricNames, ranges: readonly number[], depth: number): MetricData[] {
    const quantiles: DataPoint<number>[] = [];
    const sums: DataPoint<number>[] = [];
    const counts: DataPoint<number>[] = [];
    // Written by onField while a point is read.
    const q: { count: number; sum: number; values: [number, number][] } = { count: 0, sum: 0, values: [] };
    const onField = (field: number, type: number): boolean => {
      if (field === SummaryDataPoint.count && type === WireType.I64) {
        q.count = this.fixed64Number();
        return true;
      }
      if (field === SummaryDataPoint.sum && type === WireType.I64) {
        q.sum = this.double();
        return true;
      }
      if (field === SummaryDataPoint.quantile_values && type === WireType.LEN) {
        q.values.push(this.#valueAtQuantile(depth + 2));
        return true;
      }
      return false;
    };
    for (const start of ranges) {
      this.pos = start;
      q.count = q.sum = 0;
      q.values = [];
      const p = this.#point(depth, SUMMARY_POINT, onField);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const startTime = this.#startTime.of(p.startLow, p.startHigh);
      const endTime = this.#endTime.of(p.timeLow, p.timeHigh);
      const attributes = p.attributes;
      const { count, sum, values } = q;
      for (const [quantile, value] of values) {
        quantiles.push({
          startTime,
          endTime,
          attributes: { ...attributes, quantile: String(quantile) },
          value,
        });
      }
      sums.push({ startTime, endTime, attributes, value: sum });
      counts.push({ startTime, endTime, attributes, value: count });
    }
    const descriptor = (name: string, valueType: ValueType) => ({
      name,
      description: metric.description,
      unit: metric.unit,
      valueType,
    });
    const out: MetricData[] = [];
    if (quantiles.length > 0) {
      out.push({
        descriptor: descriptor(metric.name, ValueType.DOUBLE),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: quantiles,
      });
    }
    if (sums.length > 0) {
      out.push(
        {
          descriptor: descriptor(`${metric.name}.sum`, ValueType.DOUBLE),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: false,
          dataPoints: sums,
        },
        {
          descriptor: { ...descriptor(`${metric.name}.count`, ValueType.INT), unit: '{count}' },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: counts,
        },
      );
    }
    return out;
  }
}
