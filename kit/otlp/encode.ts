import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type * as OtlpTransformer from '@opentelemetry/otlp-transformer';
import type { DataPoint, MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { Exemplar } from '../exemplars.ts';
import { exemplarsOf } from '../exemplars.ts';
import { int64Of, int64ToBits } from '../int64.ts';
import { findSummaries } from '../summary.ts';
import type { SummaryParts } from '../summary.ts';
import { otlpTypes } from './proto.ts';
import { hrTimeToBits } from './time.ts';

/**
 * ResourceMetrics (the SDK's data model) → an OTLP `ExportMetricsServiceRequest` in the
 * protobuf encoding, written by the official serializer, `@opentelemetry/otlp-transformer`'s
 * `ProtobufMetricsSerializer` (bench/otlp-codec.bench.ts measured ours, on protobufjs, no
 * cheaper). Pure: no I/O.
 *
 * The serializer writes one request per batch; a request being a repeated field, the
 * concatenation of the batches' requests is the request holding all of them.
 *
 * What the SDK model carries and the serializer cannot write — a summary, in the kit's shape
 * (kit/summary.ts: a quantile gauge `m`, sums `m.sum` and `m.count`), and the exemplars of
 * points (kit/exemplars.ts; the serializer writes none) — is written by protobufjs over plain
 * objects, in a ResourceMetrics of its own after the batch's (same resource, same scopes): a
 * summary as the OTLP Summary it came as, a metric any of whose points carries exemplars as
 * the serializer would write it, with the exemplars. The serializer writes an `as_int` from
 * a JS number, so an integer metric any of whose points carries an exact integer outside the
 * safe range (kit/int64.ts) is written here too, its `as_int` from the exact integer's bits. A
 * batch without any of these costs one look at each point's `exemplars` property (and, for an
 * integer metric, one comparison of its value) more than the serializer alone.
 */

type PlainObject = Record<string, unknown>;

const require = createRequire(import.meta.url);
let transformer: typeof OtlpTransformer | undefined;

/** The serializer, loaded on first use: a collector that sends no OTLP never loads it. */
function metricsSerializer(): typeof OtlpTransformer.ProtobufMetricsSerializer {
  transformer ??= require('@opentelemetry/otlp-transformer') as typeof OtlpTransformer;
  return transformer.ProtobufMetricsSerializer;
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** An attribute value → an OTLP AnyValue (as the serializer writes one). */
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
        values: Object.entries(value).map(([key, item]) => ({ key, value: toAnyValue(item) })),
      },
    };
  }
  return {};
}

/** SDK attributes → repeated KeyValue. */
function toKeyValues(attributes: Attributes): PlainObject[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: toAnyValue(value) }));
}

/**
 * A summary carried in the kit's shape as the OTLP Summary it came as: one point per
 * attribute set (without `quantile`), with its count, sum and quantiles.
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

/** An exemplar → an OTLP Exemplar. */
function toOtlpExemplar(exemplar: Exemplar): PlainObject {
  const out: PlainObject = { filteredAttributes: toKeyValues(exemplar.filteredAttributes) };
  if (exemplar.timestamp !== undefined) out.timeUnixNano = hrTimeToBits(exemplar.timestamp);
  const exact = exemplar.valueType === ValueType.INT ? int64Of(exemplar) : undefined;
  if (exact !== undefined) out.asInt = int64ToBits(exact);
  else if (exemplar.valueType === ValueType.INT && Number.isSafeInteger(exemplar.value))
    out.asInt = exemplar.value;
  else out.asDouble = exemplar.value;
  if (exemplar.traceId) out.traceId = Buffer.from(exemplar.traceId, 'hex');
  if (exemplar.spanId) out.spanId = Buffer.from(exemplar.spanId, 'hex');
  return out;
}

/** The fields every OTLP data point has, with the point's exemplars. */
function toOtlpPoint(point: DataPoint<unknown>): PlainObject {
  const out: PlainObject = {
    attributes: toKeyValues(point.attributes),
    startTimeUnixNano: hrTimeToBits(point.startTime),
    timeUnixNano: hrTimeToBits(point.endTime),
  };
  const exemplars = exemplarsOf(point);
  if (exemplars.length > 0) out.exemplars = exemplars.map(toOtlpExemplar);
  return out;
}

/** An optional double of a histogram, when set. */
function setDefined(out: PlainObject, key: string, value: number | undefined): void {
  if (value !== undefined) out[key] = value;
}

/** OTLP's AggregationTemporality (DELTA 1, CUMULATIVE 2) of the SDK's. */
const toOtlpTemporality = (temporality: AggregationTemporality): number =>
  temporality === AggregationTemporality.DELTA ? 1 : 2;

/** A metric (not a summary part) as the serializer writes it, with its points' exemplars. */
function toOtlpMetric(metric: MetricData): PlainObject {
  const { name, description, unit, valueType } = metric.descriptor;
  const out: PlainObject = { name };
  if (description) out.description = description;
  if (unit) out.unit = unit;
  const temporality = toOtlpTemporality(metric.aggregationTemporality);
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
    case DataPointType.SUM: {
      const dataPoints = metric.dataPoints.map((p) => {
        const point = toOtlpPoint(p);
        if (valueType === ValueType.INT) {
          const exact = int64Of(p);
          point.asInt = exact === undefined ? p.value : int64ToBits(exact);
        } else point.asDouble = p.value;
        return point;
      });
      if (metric.dataPointType === DataPointType.GAUGE) out.gauge = { dataPoints };
      else out.sum = { dataPoints, aggregationTemporality: temporality, isMonotonic: metric.isMonotonic };
      break;
    }
    case DataPointType.HISTOGRAM: {
      const dataPoints = metric.dataPoints.map((p) => {
        const point = toOtlpPoint(p);
        const h = p.value;
        point.count = h.count;
        setDefined(point, 'sum', h.sum);
        point.bucketCounts = h.buckets.counts;
        point.explicitBounds = h.buckets.boundaries;
        setDefined(point, 'min', h.min);
        setDefined(point, 'max', h.max);
        return point;
      });
      out.histogram = { dataPoints, aggregationTemporality: temporality };
      break;
    }
    case DataPointType.EXPONENTIAL_HISTOGRAM: {
      const dataPoints = metric.dataPoints.map((p) => {
        const point = toOtlpPoint(p);
        const e = p.value;
        point.count = e.count;
        setDefined(point, 'sum', e.sum);
        point.scale = e.scale;
        point.zeroCount = e.zeroCount;
        point.positive = { offset: e.positive.offset, bucketCounts: e.positive.bucketCounts };
        point.negative = { offset: e.negative.offset, bucketCounts: e.negative.bucketCounts };
        setDefined(point, 'min', e.min);
        setDefined(point, 'max', e.max);
        return point;
      });
      out.exponentialHistogram = { dataPoints, aggregationTemporality: temporality };
      break;
    }
  }
  return out;
}

/**
 * Whether a point of `metric` has an `exemplars` property (the one look a batch without them
 * costs), or, in an integer metric, an exact integer outside the safe range.
 */
function needsOwnEncoding(metric: MetricData): boolean {
  const integers = metric.descriptor.valueType === ValueType.INT;
  for (const point of metric.dataPoints) {
    if ((point as { exemplars?: unknown }).exemplars !== undefined) return true;
    if (integers && int64Of(point) !== undefined) return true;
  }
  return false;
}

/**
 * A scope's metrics split into those the serializer writes and those written here (the
 * summaries among them, the metrics whose points carry exemplars and the integer metrics
 * with an exact integer outside the safe range), in the scope's order.
 */
function splitScope(scopeMetrics: ScopeMetrics): { rest: ScopeMetrics; own: PlainObject[] } {
  const found = findSummaries(scopeMetrics.metrics);
  const ownMetrics = new Set<MetricData>();
  for (const metric of scopeMetrics.metrics) if (needsOwnEncoding(metric)) ownMetrics.add(metric);
  if (found.size === 0 && ownMetrics.size === 0) return { rest: scopeMetrics, own: [] };
  const partOf = new Map<MetricData, SummaryParts>();
  for (const parts of found.values()) {
    partOf.set(parts.sum, parts);
    partOf.set(parts.count, parts);
    if (parts.quantiles !== undefined) partOf.set(parts.quantiles, parts);
  }
  const metrics: MetricData[] = [];
  const own: PlainObject[] = [];
  for (const metric of scopeMetrics.metrics) {
    const parts = partOf.get(metric);
    if (parts === undefined && ownMetrics.has(metric)) own.push(toOtlpMetric(metric));
    else if (parts === undefined) metrics.push(metric);
    // Written once, where its sum is.
    else if (metric === parts.sum) own.push(toOtlpSummary(parts));
  }
  return { rest: { scope: scopeMetrics.scope, metrics }, own };
}

/** The request of one batch: the serializer's, then the one written here when it has some. */
function encodeBatch(batch: ResourceMetrics, out: Uint8Array[]): void {
  const rest: ScopeMetrics[] = [];
  const ownScopes: PlainObject[] = [];
  for (const scopeMetrics of batch.scopeMetrics) {
    const split = splitScope(scopeMetrics);
    if (split.own.length === 0) {
      rest.push(scopeMetrics);
      continue;
    }
    if (split.rest.metrics.length > 0) rest.push(split.rest);
    const { scope } = scopeMetrics;
    const otlpScope: PlainObject = { name: scope.name };
    if (scope.version) otlpScope.version = scope.version;
    const ownScope: PlainObject = { scope: otlpScope, metrics: split.own };
    if (scope.schemaUrl) ownScope.schemaUrl = scope.schemaUrl;
    ownScopes.push(ownScope);
  }
  if (ownScopes.length === 0 || rest.length > 0) {
    const bytes = metricsSerializer().serializeRequest(
      ownScopes.length === 0 ? batch : { resource: batch.resource, scopeMetrics: rest },
    );
    if (bytes === undefined) throw new Error('the OTLP serializer wrote nothing');
    out.push(bytes);
  }
  if (ownScopes.length > 0) {
    const resourceMetrics: PlainObject = {
      resource: { attributes: toKeyValues(batch.resource.attributes) },
      scopeMetrics: ownScopes,
    };
    if (batch.resource.schemaUrl) resourceMetrics.schemaUrl = batch.resource.schemaUrl;
    out.push(otlpTypes.ExportMetricsServiceRequest.encode({ resourceMetrics: [resourceMetrics] }).finish());
  }
}

/** Encodes batches as one OTLP `ExportMetricsServiceRequest` (protobuf bytes). */
export function encodeExportRequest(batches: readonly ResourceMetrics[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const batch of batches) encodeBatch(batch, parts);
  const [only] = parts;
  return parts.length === 1 && only !== undefined ? only : Buffer.concat(parts);
}
