import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { findSummaries } from '../summary.ts';
import type { SummaryParts } from '../summary.ts';
import { OTLP_TEMPORALITY, otlpTypes } from './proto.ts';
import { hrTimeToBits } from './time.ts';

/**
 * ResourceMetrics (the SDK's data model) → an OTLP `ExportMetricsServiceRequest` in the
 * protobuf encoding. Pure: no I/O.
 *
 * The message is built so that its bytes are those of the official OpenTelemetry JS
 * serializer (`@opentelemetry/otlp-transformer`) for the same batch: the same fields are
 * written, including the proto3 defaults it writes explicitly (a resource's
 * `dropped_attributes_count`, an exponential histogram's `zero_count` and buckets), and the
 * same ones are left out (empty description and unit, a false `is_monotonic`). A test
 * compares both encodings byte for byte.
 */

type PlainObject = Record<string, unknown>;

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

function toAnyValue(value: unknown): PlainObject {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      return Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64
        ? { intValue: value }
        : { doubleValue: value };
    default:
      break;
  }
  if (value instanceof Uint8Array) return { bytesValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map((item: unknown) => toAnyValue(item)) } };
  if (typeof value === 'object' && value !== null) {
    return {
      kvlistValue: {
        values: Object.entries(value).map(([key, item]) => ({
          key,
          value: toAnyValue(item),
        })),
      },
    };
  }
  return {};
}

/** SDK attributes → repeated KeyValue. */
export function toKeyValues(attributes: Attributes): PlainObject[] {
  const out: PlainObject[] = [];
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    out.push({ key, value: toAnyValue(attributes[key]) });
  }
  return out;
}

function toTemporality(temporality: AggregationTemporality): number {
  return temporality === AggregationTemporality.DELTA ? OTLP_TEMPORALITY.DELTA : OTLP_TEMPORALITY.CUMULATIVE;
}

function numberPoint(point: DataPoint<number>, valueType: ValueType): PlainObject {
  const out: PlainObject = {
    startTimeUnixNano: hrTimeToBits(point.startTime),
    timeUnixNano: hrTimeToBits(point.endTime),
    attributes: toKeyValues(point.attributes),
  };
  if (valueType === ValueType.INT) out.asInt = point.value;
  else out.asDouble = point.value;
  return out;
}

function histogramPoint(point: DataPoint<Histogram>): PlainObject {
  const h = point.value;
  const out: PlainObject = {
    startTimeUnixNano: hrTimeToBits(point.startTime),
    timeUnixNano: hrTimeToBits(point.endTime),
    count: h.count,
    bucketCounts: h.buckets.counts,
    explicitBounds: h.buckets.boundaries,
    attributes: toKeyValues(point.attributes),
  };
  if (h.sum !== undefined) out.sum = h.sum;
  if (h.min !== undefined) out.min = h.min;
  if (h.max !== undefined) out.max = h.max;
  return out;
}

function buckets(offset: number, bucketCounts: number[]): PlainObject {
  const out: PlainObject = { bucketCounts };
  if (offset !== 0) out.offset = offset;
  return out;
}

function exponentialPoint(point: DataPoint<ExponentialHistogram>): PlainObject {
  const h = point.value;
  const out: PlainObject = {
    attributes: toKeyValues(point.attributes),
    startTimeUnixNano: hrTimeToBits(point.startTime),
    timeUnixNano: hrTimeToBits(point.endTime),
    count: h.count,
    zeroCount: h.zeroCount,
    positive: buckets(h.positive.offset, h.positive.bucketCounts),
    negative: buckets(h.negative.offset, h.negative.bucketCounts),
  };
  if (h.sum !== undefined) out.sum = h.sum;
  if (h.scale !== 0) out.scale = h.scale;
  if (h.min !== undefined) out.min = h.min;
  if (h.max !== undefined) out.max = h.max;
  return out;
}

function withTemporality(out: PlainObject, temporality: AggregationTemporality): PlainObject {
  out.aggregationTemporality = toTemporality(temporality);
  return out;
}

/** One SDK metric → an OTLP Metric. */
export function toOtlpMetric(metric: MetricData): PlainObject {
  const { name, description, unit, valueType } = metric.descriptor;
  const out: PlainObject = { name };
  if (description) out.description = description;
  if (unit) out.unit = unit;
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      out.gauge = { dataPoints: metric.dataPoints.map((p) => numberPoint(p, valueType)) };
      break;
    case DataPointType.SUM: {
      const sum = withTemporality(
        { dataPoints: metric.dataPoints.map((p) => numberPoint(p, valueType)) },
        metric.aggregationTemporality,
      );
      if (metric.isMonotonic) sum.isMonotonic = true;
      out.sum = sum;
      break;
    }
    case DataPointType.HISTOGRAM:
      out.histogram = withTemporality(
        { dataPoints: metric.dataPoints.map(histogramPoint) },
        metric.aggregationTemporality,
      );
      break;
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      out.exponentialHistogram = withTemporality(
        { dataPoints: metric.dataPoints.map(exponentialPoint) },
        metric.aggregationTemporality,
      );
      break;
  }
  return out;
}

/**
 * A summary carried in the kit's shape (kit/summary.ts) as the OTLP Summary it came as:
 * one point per attribute set (without `quantile`), with its count, sum and quantiles.
 */
function toOtlpSummary(parts: SummaryParts): PlainObject {
  const { description, unit } = parts.sum.descriptor;
  const points = new Map<string, PlainObject & { quantileValues: PlainObject[] }>();
  const pointOf = (p: DataPoint<number>): PlainObject & { quantileValues: PlainObject[] } => {
    const attributes: Attributes = { ...p.attributes };
    delete attributes.quantile;
    const key = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));
    let point = points.get(key);
    if (point === undefined) {
      point = {
        startTimeUnixNano: hrTimeToBits(p.startTime),
        timeUnixNano: hrTimeToBits(p.endTime),
        attributes: toKeyValues(attributes),
        count: 0,
        sum: 0,
        quantileValues: [],
      };
      points.set(key, point);
    }
    return point;
  };
  for (const p of parts.count.dataPoints as DataPoint<number>[]) pointOf(p).count = p.value;
  for (const p of parts.sum.dataPoints as DataPoint<number>[]) pointOf(p).sum = p.value;
  for (const p of (parts.quantiles?.dataPoints ?? []) as DataPoint<number>[])
    pointOf(p).quantileValues.push({ quantile: Number(p.attributes.quantile), value: p.value });
  const out: PlainObject = { name: parts.name, summary: { dataPoints: [...points.values()] } };
  if (description) out.description = description;
  if (unit) out.unit = unit;
  return out;
}

function toScopeMetrics(scopeMetrics: ScopeMetrics): PlainObject {
  const { scope } = scopeMetrics;
  const otlpScope: PlainObject = { name: scope.name };
  if (scope.version) otlpScope.version = scope.version;
  const summaries = findSummaries(scopeMetrics.metrics);
  const metrics: PlainObject[] = [];
  if (summaries.size === 0) metrics.push(...scopeMetrics.metrics.map(toOtlpMetric));
  else {
    const partOf = new Map<MetricData, SummaryParts>();
    for (const parts of summaries.values()) {
      partOf.set(parts.sum, parts);
      partOf.set(parts.count, parts);
      if (parts.quantiles !== undefined) partOf.set(parts.quantiles, parts);
    }
    for (const metric of scopeMetrics.metrics) {
      const parts = partOf.get(metric);
      if (parts === undefined) metrics.push(toOtlpMetric(metric));
      // Written once, where its sum is.
      else if (metric === parts.sum) metrics.push(toOtlpSummary(parts));
    }
  }
  const out: PlainObject = { scope: otlpScope, metrics };
  if (scope.schemaUrl) out.schemaUrl = scope.schemaUrl;
  return out;
}

/** One SDK batch → an OTLP ResourceMetrics (plain object for protobufjs). */
export function toOtlpResourceMetrics(batch: ResourceMetrics): PlainObject {
  const out: PlainObject = {
    resource: { attributes: toKeyValues(batch.resource.attributes), droppedAttributesCount: 0 },
    scopeMetrics: batch.scopeMetrics.map(toScopeMetrics),
  };
  if (batch.resource.schemaUrl) out.schemaUrl = batch.resource.schemaUrl;
  return out;
}

/** Encodes batches as one OTLP `ExportMetricsServiceRequest` (protobuf bytes). */
export function encodeExportRequest(batches: readonly ResourceMetrics[]): Uint8Array {
  return otlpTypes.ExportMetricsServiceRequest.encode({
    resourceMetrics: batches.map(toOtlpResourceMetrics),
  }).finish();
}
