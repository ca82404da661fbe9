import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type {
  MetricData,
  ResourceMetrics as SdkResourceMetrics,
  ScopeMetrics as SdkScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { AttributeCache } from './attribute-cache.ts';
import type { ScopeFields } from './common-decode.ts';
import {
  ExportMetricsServiceRequest,
  Metric,
  ResourceMetrics,
  ScopeMetrics,
  Sum,
  WireType,
} from './fields.ts';
import { otlpJsonToProtobuf } from './json.ts';
import type { MetricNames } from './points-decode.ts';
import { PointsDecoder } from './points-decode.ts';
import { OTLP_TEMPORALITY } from './proto.ts';

export { AttributeCache } from './attribute-cache.ts';
export { toResourceValue } from './common-decode.ts';

/**
 * The OTLP decoder: an `ExportMetricsServiceRequest` — protobuf bytes, or OTLP/JSON text
 * mapped onto the same protobuf message first (json.ts) — decoded straight from the wire into
 * the SDK's `ResourceMetrics`, in one pass, one method per message. Pure: no I/O.
 *
 * It accepts what protobufjs accepts and rejects what it rejects (truncated or malformed input,
 * invalid UTF-8 in a string, a packed field of the wrong length, nesting deeper than 100), with
 * an `OtlpDecodeError` that names the message, field and byte offset. Fields of an unexpected
 * wire type are skipped as unknown, and a message field that appears twice is merged, as
 * protobufjs does.
 *
 * What the SDK data model cannot hold, and what becomes of it:
 * - **Summary** points (no SDK type) become, per summary metric `m`: a gauge `m` with one
 *   point per quantile (attribute `quantile`, the quantile as a decimal string, as
 *   Prometheus writes it), a cumulative non-monotonic sum `m.sum` and a cumulative monotonic
 *   integer sum `m.count` (kit/summary.ts; the encoder writes this shape back as an OTLP
 *   Summary). A summary point with k quantiles gives k + 2 points.
 * - **Exemplars** are carried on the points (kit/exemplars.ts); those of a point that is
 *   skipped or rejected are counted in `exemplarsDropped`.
 * - Scope attributes, `dropped_attributes_count`, metric `metadata`, an exponential
 *   histogram's `zero_threshold` are dropped.
 * - A gauge or sum whose points are all `as_int` has value type INT, otherwise DOUBLE.
 * - Points flagged `NO_RECORDED_VALUE` (staleness markers) are skipped and counted in
 *   `noRecordedValue`.
 *
 * Invalid points are rejected, counted and described, as OTLP partial success asks: a sum
 * or histogram with unspecified temporality, a number point without a value, a histogram
 * whose bucket counts do not match its bounds, a metric without a name.
 *
 * With an {@link AttributeCache}, data points whose attribute fields are byte for byte those
 * of an earlier point share one frozen attributes object, decoded once: the points of a
 * series arrive again in every export, so the keys and values are not decoded again, and the
 * exporters downstream can remember what they derived from an attribute set.
 */

/** The decoded request, in the SDK's model, with what was rejected and why. */
export interface DecodedRequest {
  readonly batches: SdkResourceMetrics[];
  /** SDK data points produced. */
  readonly points: number;
  /** OTLP data points rejected as invalid (reported to the client as partial success). */
  readonly rejected: number;
  /** One message per kind of rejection, for `error_message`. */
  readonly errors: string[];
  readonly exemplarsDropped: number;
  readonly noRecordedValue: number;
}

/** What a receiver keeps between requests to decode them faster. */
export interface DecodeCaches {
  readonly attributes?: AttributeCache;
  /** Resources by their encoded bytes (bounded). */
  readonly resources?: Map<string, Resource>;
}

/** The message name of each kind of Metric data, for errors. */
const DATA_MESSAGE: Readonly<Record<number, string>> = {
  [Metric.gauge]: 'Gauge',
  [Metric.sum]: 'Sum',
  [Metric.histogram]: 'Histogram',
  [Metric.exponential_histogram]: 'ExponentialHistogram',
  [Metric.summary]: 'Summary',
};

/** Name, description, unit and the ranges of the data fields of one metric, by kind. */
interface MetricFields extends MetricNames {
  /** 0 none, else the Metric field of the data set last (gauge, sum, …). */
  data: number;
  ranges: Map<number, number[]>;
}

function toTemporality(value: number): AggregationTemporality | undefined {
  if (value === OTLP_TEMPORALITY.DELTA) return AggregationTemporality.DELTA;
  if (value === OTLP_TEMPORALITY.CUMULATIVE) return AggregationTemporality.CUMULATIVE;
  return undefined;
}

/** The request and metric messages; the points are read by {@link PointsDecoder}. */
class MetricsDecoder extends PointsDecoder {
  /**
   * A decoder over the same bytes that only validates: data protobufjs would decode (and
   * reject when malformed) but the conversion does not use.
   */
  #validator(): MetricsDecoder {
    const validator = new MetricsDecoder(
      this.buf,
      this.path.slice(0, this.level),
      undefined,
      undefined,
      false,
    );
    validator.len = this.len;
    return validator;
  }

  // ─── the request ───────────────────────────────────────────────────────────

  /** ExportMetricsServiceRequest: its ResourceMetrics that have points. */
  request(): SdkResourceMetrics[] {
    const batches: SdkResourceMetrics[] = [];
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === ExportMetricsServiceRequest.resource_metrics && type === WireType.LEN) {
        const batch = this.#resourceMetrics(1);
        if (batch.scopeMetrics.length > 0) batches.push(batch);
      } else this.skip(type, field, 0);
    }
    return batches;
  }

  #resourceMetrics(depth: number): SdkResourceMetrics {
    const outer = this.enter(depth, 'ResourceMetrics');
    const attributeRanges: number[] = [];
    let resourceSpan: [number, number] | undefined;
    let resourceFieldCount = 0;
    let schemaUrl = '';
    const scopeMetrics: SdkScopeMetrics[] = [];
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === ResourceMetrics.resource && type === WireType.LEN) {
        const start = this.pos;
        this.resourceFields(attributeRanges, depth + 1);
        resourceSpan = [start, this.pos];
        resourceFieldCount += 1;
      } else if (field === ResourceMetrics.scope_metrics && type === WireType.LEN) {
        scopeMetrics.push(this.#scopeMetrics(depth + 1));
      } else if (field === ResourceMetrics.schema_url && type === WireType.LEN) schemaUrl = this.string();
      else this.skip(type, field, depth);
    }
    const end = this.len;
    // The resource's bytes key the resource cache, when it came in one field.
    const key =
      resourceFieldCount === 1 && resourceSpan !== undefined
        ? this.buf.toString('latin1', resourceSpan[0], resourceSpan[1])
        : undefined;
    const resource = this.resource(attributeRanges, key, schemaUrl, depth + 2);
    this.pos = end;
    this.len = end;
    this.leave(outer);
    return { resource, scopeMetrics: scopeMetrics.filter((s) => s.metrics.length > 0) };
  }

  #scopeMetrics(depth: number): SdkScopeMetrics {
    const outer = this.enter(depth, 'ScopeMetrics');
    const scope: ScopeFields = { name: '', version: '' };
    let schemaUrl = '';
    const metrics: MetricData[] = [];
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === ScopeMetrics.scope && type === WireType.LEN) {
        this.instrumentationScope(scope, depth + 1);
      } else if (field === ScopeMetrics.metrics && type === WireType.LEN) {
        for (const converted of this.#metric(depth + 1)) {
          if (converted.dataPoints.length === 0) continue;
          this.points += converted.dataPoints.length;
          metrics.push(converted);
        }
      } else if (field === ScopeMetrics.schema_url && type === WireType.LEN) schemaUrl = this.string();
      else this.skip(type, field, depth);
    }
    this.leave(outer);
    const out: { name: string; version?: string; schemaUrl?: string } = { name: scope.name };
    if (scope.version) out.version = scope.version;
    if (schemaUrl) out.schemaUrl = schemaUrl;
    return { scope: out, metrics };
  }

  // ─── Metric ────────────────────────────────────────────────────────────────

  /** One Metric message → its SDK metrics (several for a summary, none when rejected). */
  #metric(depth: number): MetricData[] {
    const outer = this.enter(depth, 'Metric');
    const fields: MetricFields = { name: '', description: '', unit: '', data: 0, ranges: new Map() };
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (type !== WireType.LEN) {
        this.skip(type, field, depth);
        continue;
      }
      switch (field) {
        case Metric.name:
          fields.name = this.string();
          break;
        case Metric.description:
          fields.description = this.string();
          break;
        case Metric.unit:
          fields.unit = this.string();
          break;
        case Metric.gauge:
        case Metric.sum:
        case Metric.histogram:
        case Metric.exponential_histogram:
        case Metric.summary: {
          // Read once the metric's name is known (it may come after its data).
          let list = fields.ranges.get(field);
          if (list === undefined) {
            list = [];
            fields.ranges.set(field, list);
          }
          list.push(this.pos);
          fields.data = field;
          this.pos = this.end();
          break;
        }
        case Metric.metadata:
          this.keyValue(depth + 1);
          break;
        default:
          this.skip(type, field, depth);
      }
    }
    const end = this.len;
    let out: MetricData[] = [];
    // The data fields of the oneof that did not win are still decoded (and may be malformed).
    for (const [kind, ranges] of fields.ranges) {
      if (kind !== fields.data) this.#validator().#convert(kind, fields, ranges, depth + 1);
    }
    const ranges = fields.ranges.get(fields.data) ?? [];
    if (fields.data !== 0) {
      if (fields.name === '') {
        this.#validator().#convert(fields.data, fields, ranges, depth + 1);
        this.len = end;
        this.reject(this.#countPoints(fields.data, ranges, depth + 1), 'a metric has no name');
      } else out = this.#convert(fields.data, fields, ranges, depth + 1);
    }
    this.pos = end;
    this.len = end;
    this.leave(outer);
    return out;
  }

  #countPoints(kind: number, ranges: readonly number[], depth: number): number {
    const saved = this.len;
    const n = this.#dataFields(kind, ranges, depth).points.length;
    this.len = saved;
    return n;
  }

  /**
   * The data messages of one kind (Gauge, Sum, Histogram, …; occurrences merge): the tag ends
   * of their data points, their aggregation temporality and whether they are monotonic. Every
   * kind has `data_points` = 1; Sum, Histogram and ExponentialHistogram have
   * `aggregation_temporality` = 2; Sum has `is_monotonic` = 3.
   */
  #dataFields(
    kind: number,
    ranges: readonly number[],
    depth: number,
  ): { points: number[]; temporality: number; monotonic: boolean } {
    const hasTemporality =
      kind === Metric.sum || kind === Metric.histogram || kind === Metric.exponential_histogram;
    const temporalityField = hasTemporality ? Sum.aggregation_temporality : -1;
    const monotonicField = kind === Metric.sum ? Sum.is_monotonic : -1;
    const message = DATA_MESSAGE[kind] ?? 'Metric';
    const points: number[] = [];
    let temporality = 0;
    let monotonic = false;
    for (const start of ranges) {
      this.pos = start;
      const outer = this.enter(depth, message);
      while (this.pos < this.len) {
        const tag = this.tag();
        const field = tag >>> 3;
        const type = tag & 7;
        if (field === Sum.data_points && type === WireType.LEN) {
          points.push(this.pos);
          this.pos = this.end();
        } else if (field === temporalityField && type === WireType.VARINT) temporality = this.uint32() | 0;
        else if (field === monotonicField && type === WireType.VARINT) monotonic = this.bool();
        else this.skip(type, field, depth);
      }
      this.leave(outer);
    }
    return { points, temporality, monotonic };
  }

  /** Converts the data of one kind, with the metric's name, description and unit. */
  #convert(kind: number, fields: MetricFields, ranges: readonly number[], depth: number): MetricData[] {
    const { name } = fields;
    const descriptor = (valueType: ValueType) => ({
      name,
      description: fields.description,
      unit: fields.unit,
      valueType,
    });
    const data = this.#dataFields(kind, ranges, depth);
    const len = this.len;
    const points = data.points;
    const pointDepth = depth + 1;
    switch (kind) {
      case Metric.gauge: {
        const { dataPoints, valueType } = this.numberPoints(name, points, pointDepth);
        this.len = len;
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
      case Metric.sum: {
        const temporality = toTemporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().numberPoints(name, points, pointDepth);
          this.reject(points.length, `metric "${name}": sum with unspecified aggregation_temporality`);
          return [];
        }
        const { dataPoints, valueType } = this.numberPoints(name, points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(valueType),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.SUM,
            isMonotonic: data.monotonic,
            dataPoints,
          },
        ];
      }
      case Metric.histogram: {
        const temporality = toTemporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().histogramPoints(name, points, pointDepth);
          this.reject(points.length, `metric "${name}": histogram with unspecified aggregation_temporality`);
          return [];
        }
        const dataPoints = this.histogramPoints(name, points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case Metric.exponential_histogram: {
        const temporality = toTemporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().exponentialPoints(points, pointDepth);
          this.reject(
            points.length,
            `metric "${name}": exponential histogram with unspecified aggregation_temporality`,
          );
          return [];
        }
        const dataPoints = this.exponentialPoints(points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case Metric.summary: {
        const out = this.summary(fields, points, pointDepth);
        this.len = len;
        return out;
      }
      default:
        return [];
    }
  }
}

/**
 * Decodes `ExportMetricsServiceRequest` protobuf bytes into SDK batches (one per OTLP
 * ResourceMetrics that has points), with the rejected points counted and described.
 * Throws an `OtlpDecodeError` on malformed input.
 */
export function decodeMetricsRequest(bytes: Uint8Array, caches: DecodeCaches = {}): DecodedRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new MetricsDecoder(
    buf,
    ['ExportMetricsServiceRequest'],
    caches.attributes,
    caches.resources,
    true,
  );
  const batches = decoder.request();
  return {
    batches,
    points: decoder.points,
    rejected: decoder.rejected,
    errors: [...decoder.errors],
    exemplarsDropped: decoder.exemplarsDropped,
    noRecordedValue: decoder.noRecordedValue,
  };
}

/**
 * Decodes an OTLP/JSON `ExportMetricsServiceRequest` (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding:
 * lowerCamelCase or original field names, enums as integers or names, 64-bit integers as
 * strings or numbers, trace and span ids in hex; unknown fields ignored) onto the same model,
 * through the same message decoders. Throws an `OtlpDecodeError` on malformed input.
 */
export function decodeMetricsRequestJson(text: string, caches: DecodeCaches = {}): DecodedRequest {
  return decodeMetricsRequest(otlpJsonToProtobuf(text), caches);
}

/** Decodes protobuf bytes straight into SDK batches (the disk queue's replay path). */
export function decodeBatches(bytes: Uint8Array): SdkResourceMetrics[] {
  return decodeMetricsRequest(bytes).batches;
}
