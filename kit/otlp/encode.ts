import type { Attributes } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { DataPoint, MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
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
 * (kit/summary.ts: a quantile gauge `m`, sums `m.sum` and `m.count`) — is written as the OTLP
 * Summary it came as, in a ResourceMetrics of its own after the batch's (same resource, same
 * scopes).
 */

type PlainObject = Record<string, unknown>;

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

/** A scope's metrics split into those the serializer writes and the summaries among them. */
function splitScope(scopeMetrics: ScopeMetrics): { rest: ScopeMetrics; summaries: PlainObject[] } {
  const found = findSummaries(scopeMetrics.metrics);
  if (found.size === 0) return { rest: scopeMetrics, summaries: [] };
  const partOf = new Map<MetricData, SummaryParts>();
  for (const parts of found.values()) {
    partOf.set(parts.sum, parts);
    partOf.set(parts.count, parts);
    if (parts.quantiles !== undefined) partOf.set(parts.quantiles, parts);
  }
  const metrics: MetricData[] = [];
  const summaries: PlainObject[] = [];
  for (const metric of scopeMetrics.metrics) {
    const parts = partOf.get(metric);
    if (parts === undefined) metrics.push(metric);
    // Written once, where its sum is.
    else if (metric === parts.sum) summaries.push(toOtlpSummary(parts));
  }
  return { rest: { scope: scopeMetrics.scope, metrics }, summaries };
}

/** The request of one batch: the serializer's, then its summaries' when it has some. */
function encodeBatch(batch: ResourceMetrics, out: Uint8Array[]): void {
  const rest: ScopeMetrics[] = [];
  const summaryScopes: PlainObject[] = [];
  for (const scopeMetrics of batch.scopeMetrics) {
    const split = splitScope(scopeMetrics);
    if (split.summaries.length === 0) {
      rest.push(scopeMetrics);
      continue;
    }
    if (split.rest.metrics.length > 0) rest.push(split.rest);
    const { scope } = scopeMetrics;
    const otlpScope: PlainObject = { name: scope.name };
    if (scope.version) otlpScope.version = scope.version;
    const summaryScope: PlainObject = { scope: otlpScope, metrics: split.summaries };
    if (scope.schemaUrl) summaryScope.schemaUrl = scope.schemaUrl;
    summaryScopes.push(summaryScope);
  }
  if (summaryScopes.length === 0 || rest.length > 0) {
    const bytes = ProtobufMetricsSerializer.serializeRequest(
      summaryScopes.length === 0 ? batch : { resource: batch.resource, scopeMetrics: rest },
    );
    if (bytes === undefined) throw new Error('the OTLP serializer wrote nothing');
    out.push(bytes);
  }
  if (summaryScopes.length > 0) {
    const resourceMetrics: PlainObject = {
      resource: { attributes: toKeyValues(batch.resource.attributes) },
      scopeMetrics: summaryScopes,
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
