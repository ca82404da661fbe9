import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { createRequire } from 'node:module';
import type * as ProtoJson from 'protobufjs/ext/protojson.js';
import type {
  Int64,
  OtlpAnyValue,
  OtlpExponentialHistogramDataPoint,
  OtlpExportRequest,
  OtlpHistogramDataPoint,
  OtlpKeyValue,
  OtlpMetric,
  OtlpNumberDataPoint,
  OtlpResourceMetrics,
  OtlpSummaryDataPoint,
} from './proto.ts';
import { FLAG_NO_RECORDED_VALUE, OTLP_TEMPORALITY, otlpTypes } from './proto.ts';
import { bitsToHrTime } from './time.ts';

const require = createRequire(import.meta.url);
let protojsonModule: typeof ProtoJson | undefined;

/** protobufjs's ProtoJSON extension, loaded with the first OTLP/JSON request. */
function protojson(): typeof ProtoJson {
  protojsonModule ??= require('protobufjs/ext/protojson.js') as typeof ProtoJson;
  return protojsonModule;
}

/**
 * OTLP `ExportMetricsServiceRequest` (protobuf bytes or OTLP/JSON) → the SDK's
 * `ResourceMetrics`, one batch per OTLP ResourceMetrics. Pure: no I/O.
 *
 * What the SDK data model cannot hold, and what becomes of it:
 * - **Summary** points (no SDK type) become, per summary metric `m`: a gauge `m` with one
 *   point per quantile (attribute `quantile`, the quantile as a decimal string, as
 *   Prometheus writes it), a cumulative non-monotonic sum `m.sum` and a cumulative monotonic
 *   integer sum `m.count` (kit/summary.ts; the encoder writes this shape back as an OTLP
 *   Summary). A summary point with k quantiles gives k + 2 points.
 * - **Exemplars** are dropped (the SDK's `DataPoint` has no exemplars); counted in
 *   `exemplarsDropped`.
 * - Scope attributes, `dropped_attributes_count`, metric `metadata`, an exponential
 *   histogram's `zero_threshold` are dropped.
 * - Attribute values keep their shape (arrays, key-value lists as plain objects, bytes as
 *   Uint8Array); 64-bit integers beyond 2^53 lose precision (JavaScript numbers).
 * - A gauge or sum whose points are all `as_int` has value type INT, otherwise DOUBLE.
 * - Points flagged `NO_RECORDED_VALUE` (staleness markers) are skipped and counted in
 *   `noRecordedValue`.
 *
 * Invalid points are rejected, counted and described, as OTLP partial success asks: a sum
 * or histogram with unspecified temporality, a number point without a value, a histogram
 * whose bucket counts do not match its bounds, a metric without a name or without data.
 */

/** The decoded request, in the SDK's model, with what was rejected and why. */
export interface DecodedRequest {
  readonly batches: ResourceMetrics[];
  /** SDK data points produced. */
  readonly points: number;
  /** OTLP data points rejected as invalid (reported to the client as partial success). */
  readonly rejected: number;
  /** One message per kind of rejection, for `error_message`. */
  readonly errors: string[];
  readonly exemplarsDropped: number;
  readonly noRecordedValue: number;
}

/** Decodes the protobuf bytes of a request; throws on malformed input. */
export function decodeExportRequest(bytes: Uint8Array): OtlpExportRequest {
  return otlpTypes.ExportMetricsServiceRequest.decode(bytes) as unknown as OtlpExportRequest;
}

/**
 * Parses an OTLP/JSON request (ProtoJSON with the OTLP rules: lowerCamelCase or original
 * field names, enums as integers, 64-bit integers as strings or numbers; unknown fields are
 * ignored as the specification asks). Throws on malformed input.
 */
export function parseExportRequestJson(text: string): OtlpExportRequest {
  const json: unknown = JSON.parse(text);
  const type = otlpTypes.ExportMetricsServiceRequest;
  // fromJson validates and converts to plain objects; a pass through the binary encoding
  // gives them the message shape (defaults, oneof names) the conversion reads.
  const message = protojson().fromJson(type, json, { ignoreUnknownFields: true });
  return type.decode(type.encode(message).finish()) as unknown as OtlpExportRequest;
}

/** A 64-bit integer as a number (exact up to 2^53). */
function toNumber(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  const high = value.unsigned ? value.high >>> 0 : value.high;
  return high * 4_294_967_296 + (value.low >>> 0);
}

/** Converts timestamps, reusing the last result: the points of a batch mostly share them. */
class TimeCache {
  #low = 0;
  #high = 0;
  #last: HrTime = [0, 0];
  convert(value: Int64 | null | undefined): HrTime {
    let low: number;
    let high: number;
    if (value === null || value === undefined) {
      low = 0;
      high = 0;
    } else if (typeof value === 'number') {
      high = Math.floor(value / 4_294_967_296);
      low = value - high * 4_294_967_296;
    } else {
      low = value.low;
      high = value.high;
    }
    if (low === this.#low && high === this.#high) return this.#last;
    this.#low = low;
    this.#high = high;
    this.#last = bitsToHrTime(low, high);
    return this.#last;
  }
}

/**
 * An OTLP AnyValue → an attribute value. The API's attribute values are any value (`AnyValue`
 * is `unknown` in @opentelemetry/api), so lists stay arrays, key-value lists become plain
 * objects and bytes stay `Uint8Array`: the official serializer writes them back as they came.
 * An empty AnyValue becomes null inside a list or map and leaves the attribute out at the top.
 */
function toAnyValue(value: OtlpAnyValue): unknown {
  switch (value.value) {
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'intValue':
      return toNumber(value.intValue);
    case 'doubleValue':
      return value.doubleValue ?? 0;
    case 'bytesValue':
      return new Uint8Array(value.bytesValue ?? []);
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).map(toAnyValue);
    case 'kvlistValue': {
      const out: Record<string, unknown> = {};
      for (const kv of value.kvlistValue?.values ?? []) out[kv.key] = kv.value ? toAnyValue(kv.value) : null;
      return out;
    }
    default:
      return null;
  }
}

/** JSON for a value the SDK's Resource cannot hold, with bytes as base64. */
function toJsonString(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
  );
}

/**
 * A resource attribute value. The SDK's Resource keeps only strings, booleans, numbers and
 * arrays of one of them: anything else (a key-value list, bytes, a mixed array) is kept as a
 * JSON string rather than lost.
 */
export function toResourceValue(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    const kinds = new Set(value.filter((v) => v !== null).map((v) => typeof v));
    const [kind] = kinds;
    if (
      kinds.size <= 1 &&
      (kind === undefined || kind === 'string' || kind === 'number' || kind === 'boolean')
    )
      return value;
  }
  return toJsonString(value);
}

/** Repeated KeyValue → SDK attributes (a key without a value is left out). */
export function toAttributes(keyValues: readonly OtlpKeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of keyValues) {
    const value = kv.value ? toAnyValue(kv.value) : null;
    if (value !== null) out[kv.key] = value;
  }
  return out;
}

function toTemporality(value: number): AggregationTemporality | undefined {
  if (value === OTLP_TEMPORALITY.DELTA) return AggregationTemporality.DELTA;
  if (value === OTLP_TEMPORALITY.CUMULATIVE) return AggregationTemporality.CUMULATIVE;
  return undefined;
}

/** Accumulates the outcome of one request. */
class Conversion {
  readonly times = new TimeCache();
  points = 0;
  rejected = 0;
  exemplarsDropped = 0;
  noRecordedValue = 0;
  readonly errors = new Set<string>();

  reject(count: number, message: string): void {
    if (count <= 0) return;
    this.rejected += count;
    this.errors.add(message);
  }

  numberPoints(
    metric: OtlpMetric,
    points: readonly OtlpNumberDataPoint[],
  ): { dataPoints: DataPoint<number>[]; valueType: ValueType } {
    const dataPoints: DataPoint<number>[] = [];
    let allInt = true;
    let missing = 0;
    for (const p of points) {
      this.exemplarsDropped += p.exemplars.length;
      let value: number;
      if (p.value === 'asInt') value = toNumber(p.asInt);
      else if (p.value === 'asDouble') {
        value = p.asDouble ?? 0;
        allInt = false;
      } else if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      } else {
        missing += 1;
        continue;
      }
      dataPoints.push({
        startTime: this.times.convert(p.startTimeUnixNano),
        endTime: this.times.convert(p.timeUnixNano),
        attributes: toAttributes(p.attributes),
        value,
      });
    }
    this.reject(missing, `metric "${metric.name}": a number data point has no value`);
    return { dataPoints, valueType: allInt && dataPoints.length > 0 ? ValueType.INT : ValueType.DOUBLE };
  }

  histogramPoints(metric: OtlpMetric, points: readonly OtlpHistogramDataPoint[]): DataPoint<Histogram>[] {
    const out: DataPoint<Histogram>[] = [];
    let invalid = 0;
    for (const p of points) {
      this.exemplarsDropped += p.exemplars.length;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const counts = p.bucketCounts.map(toNumber);
      if (counts.length !== 0 && counts.length !== p.explicitBounds.length + 1) {
        invalid += 1;
        continue;
      }
      const value: Histogram = {
        buckets: { boundaries: [...p.explicitBounds], counts },
        count: toNumber(p.count),
      };
      if (p.sum !== null && p.sum !== undefined) value.sum = p.sum;
      if (p.min !== null && p.min !== undefined) value.min = p.min;
      if (p.max !== null && p.max !== undefined) value.max = p.max;
      out.push({
        startTime: this.times.convert(p.startTimeUnixNano),
        endTime: this.times.convert(p.timeUnixNano),
        attributes: toAttributes(p.attributes),
        value,
      });
    }
    this.reject(
      invalid,
      `metric "${metric.name}": histogram bucket_counts must have one more entry than explicit_bounds`,
    );
    return out;
  }

  exponentialPoints(points: readonly OtlpExponentialHistogramDataPoint[]): DataPoint<ExponentialHistogram>[] {
    const out: DataPoint<ExponentialHistogram>[] = [];
    for (const p of points) {
      this.exemplarsDropped += p.exemplars.length;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const value: ExponentialHistogram = {
        count: toNumber(p.count),
        scale: p.scale,
        zeroCount: toNumber(p.zeroCount),
        positive: {
          offset: p.positive?.offset ?? 0,
          bucketCounts: (p.positive?.bucketCounts ?? []).map(toNumber),
        },
        negative: {
          offset: p.negative?.offset ?? 0,
          bucketCounts: (p.negative?.bucketCounts ?? []).map(toNumber),
        },
      };
      if (p.sum !== null && p.sum !== undefined) value.sum = p.sum;
      if (p.min !== null && p.min !== undefined) value.min = p.min;
      if (p.max !== null && p.max !== undefined) value.max = p.max;
      out.push({
        startTime: this.times.convert(p.startTimeUnixNano),
        endTime: this.times.convert(p.timeUnixNano),
        attributes: toAttributes(p.attributes),
        value,
      });
    }
    return out;
  }

  summary(metric: OtlpMetric, points: readonly OtlpSummaryDataPoint[]): MetricData[] {
    const quantiles: DataPoint<number>[] = [];
    const sums: DataPoint<number>[] = [];
    const counts: DataPoint<number>[] = [];
    for (const p of points) {
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const startTime = this.times.convert(p.startTimeUnixNano);
      const endTime = this.times.convert(p.timeUnixNano);
      const attributes = toAttributes(p.attributes);
      for (const q of p.quantileValues) {
        quantiles.push({
          startTime,
          endTime,
          attributes: { ...attributes, quantile: String(q.quantile) },
          value: q.value,
        });
      }
      sums.push({ startTime, endTime, attributes, value: p.sum });
      counts.push({ startTime, endTime, attributes, value: toNumber(p.count) });
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

  metric(metric: OtlpMetric): MetricData[] {
    const descriptor = (valueType: ValueType) => ({
      name: metric.name,
      description: metric.description,
      unit: metric.unit,
      valueType,
    });
    if (metric.name === '') {
      this.reject(countOtlpPoints(metric), 'a metric has no name');
      return [];
    }
    switch (metric.data) {
      case 'gauge': {
        const { dataPoints, valueType } = this.numberPoints(metric, metric.gauge?.dataPoints ?? []);
        // Gauges have no temporality in OTLP; the SDK labels them cumulative.
        return [
          {
            descriptor: descriptor(valueType),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints,
          },
        ];
      }
      case 'sum': {
        const sum = metric.sum;
        const temporality = toTemporality(sum?.aggregationTemporality ?? 0);
        if (sum === null || sum === undefined || temporality === undefined) {
          this.reject(
            sum?.dataPoints.length ?? 0,
            `metric "${metric.name}": sum with unspecified aggregation_temporality`,
          );
          return [];
        }
        const { dataPoints, valueType } = this.numberPoints(metric, sum.dataPoints);
        return [
          {
            descriptor: descriptor(valueType),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.SUM,
            isMonotonic: sum.isMonotonic,
            dataPoints,
          },
        ];
      }
      case 'histogram': {
        const histogram = metric.histogram;
        const temporality = toTemporality(histogram?.aggregationTemporality ?? 0);
        if (histogram === null || histogram === undefined || temporality === undefined) {
          this.reject(
            histogram?.dataPoints.length ?? 0,
            `metric "${metric.name}": histogram with unspecified aggregation_temporality`,
          );
          return [];
        }
        const dataPoints = this.histogramPoints(metric, histogram.dataPoints);
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case 'exponentialHistogram': {
        const histogram = metric.exponentialHistogram;
        const temporality = toTemporality(histogram?.aggregationTemporality ?? 0);
        if (histogram === null || histogram === undefined || temporality === undefined) {
          this.reject(
            histogram?.dataPoints.length ?? 0,
            `metric "${metric.name}": exponential histogram with unspecified aggregation_temporality`,
          );
          return [];
        }
        const dataPoints = this.exponentialPoints(histogram.dataPoints);
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case 'summary':
        return this.summary(metric, metric.summary?.dataPoints ?? []);
      default:
        // A metric without data carries no points: nothing to reject.
        return [];
    }
  }

  resourceMetrics(rm: OtlpResourceMetrics): ResourceMetrics {
    const attributes: Attributes = {};
    for (const [key, value] of Object.entries(toAttributes(rm.resource?.attributes ?? [])))
      attributes[key] = toResourceValue(value);
    const resource = resourceFromAttributes(attributes, rm.schemaUrl ? { schemaUrl: rm.schemaUrl } : {});
    const scopeMetrics: ScopeMetrics[] = rm.scopeMetrics.map((sm) => {
      const scope: { name: string; version?: string; schemaUrl?: string } = { name: sm.scope?.name ?? '' };
      if (sm.scope?.version) scope.version = sm.scope.version;
      if (sm.schemaUrl) scope.schemaUrl = sm.schemaUrl;
      const metrics: MetricData[] = [];
      for (const metric of sm.metrics) {
        for (const converted of this.metric(metric)) {
          if (converted.dataPoints.length === 0) continue;
          this.points += converted.dataPoints.length;
          metrics.push(converted);
        }
      }
      return { scope, metrics };
    });
    return { resource, scopeMetrics: scopeMetrics.filter((s) => s.metrics.length > 0) };
  }
}

/** OTLP points in a metric, of whatever kind. */
export function countOtlpPoints(metric: OtlpMetric): number {
  switch (metric.data) {
    case 'gauge':
      return metric.gauge?.dataPoints.length ?? 0;
    case 'sum':
      return metric.sum?.dataPoints.length ?? 0;
    case 'histogram':
      return metric.histogram?.dataPoints.length ?? 0;
    case 'exponentialHistogram':
      return metric.exponentialHistogram?.dataPoints.length ?? 0;
    case 'summary':
      return metric.summary?.dataPoints.length ?? 0;
    default:
      return 0;
  }
}

/**
 * A decoded request → SDK batches (one per OTLP ResourceMetrics that has points), with the
 * rejected points counted and described.
 */
export function toResourceMetrics(request: OtlpExportRequest): DecodedRequest {
  const conversion = new Conversion();
  const batches: ResourceMetrics[] = [];
  for (const rm of request.resourceMetrics) {
    const batch = conversion.resourceMetrics(rm);
    if (batch.scopeMetrics.length > 0) batches.push(batch);
  }
  return {
    batches,
    points: conversion.points,
    rejected: conversion.rejected,
    errors: [...conversion.errors],
    exemplarsDropped: conversion.exemplarsDropped,
    noRecordedValue: conversion.noRecordedValue,
  };
}

/** Decodes protobuf bytes straight into SDK batches (the disk queue's replay path). */
export function decodeBatches(bytes: Uint8Array): ResourceMetrics[] {
  return toResourceMetrics(decodeExportRequest(bytes)).batches;
}
