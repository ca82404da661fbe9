import type { Attributes, HrTime, ValueType } from '@opentelemetry/api';
import { attributesToLabels } from './prometheus/labels.ts';

/**
 * Exemplars on data points. The OpenTelemetry data model gives sum and histogram points a
 * list of exemplars (data-model.md, "Exemplars"); the JS SDK's `DataPoint` has no field for
 * them. inframeter carries them in an optional `exemplars` property of the point object, which
 * receivers that read exemplars set ({@link withExemplars}) and exporters that write them read
 * ({@link exemplarsOf}). A component that builds new points without copying the property
 * drops them, as the SDK's own exporters do. Pure.
 */

/** One exemplar: a measurement that contributed to the point, with the trace it was made in. */
export interface Exemplar {
  /** The measurement's attributes that are not on the point (Prometheus: the exemplar's labels). */
  readonly filteredAttributes: Attributes;
  readonly value: number;
  /** When the measurement was made; undefined when the source did not say. */
  readonly timestamp: HrTime | undefined;
  /** The trace the measurement was made in: 32 lowercase hex digits. */
  readonly traceId?: string | undefined;
  /** The span the measurement was made in: 16 lowercase hex digits. */
  readonly spanId?: string | undefined;
  /**
   * `ValueType.INT` when the source gave the value as an integer (OTLP `as_int`), so that it
   * is written back as one; a double otherwise.
   */
  readonly valueType?: ValueType | undefined;
}

/** The property that carries a point's exemplars. */
interface CarriesExemplars {
  readonly exemplars?: unknown;
}

const isOptionalString = (value: unknown): boolean => value === undefined || typeof value === 'string';

/** Whether `item` has the shape of an {@link Exemplar}: a sender with a bug may hand on anything. */
function isExemplar(item: unknown): item is Exemplar {
  if (typeof item !== 'object' || item === null) return false;
  const e = item as Partial<Record<keyof Exemplar, unknown>>;
  const t = e.timestamp;
  return (
    typeof e.value === 'number' &&
    typeof e.filteredAttributes === 'object' &&
    e.filteredAttributes !== null &&
    (t === undefined ||
      (Array.isArray(t) && t.length === 2 && Number.isSafeInteger(t[0]) && Number.isSafeInteger(t[1]))) &&
    isOptionalString(e.traceId) &&
    isOptionalString(e.spanId) &&
    (e.valueType === undefined || typeof e.valueType === 'number')
  );
}

/** The exemplars a point carries; none when it has no (or a malformed) `exemplars` property. */
export function exemplarsOf(point: object): readonly Exemplar[] {
  const list = (point as CarriesExemplars).exemplars;
  if (!Array.isArray(list)) return [];
  return list.every(isExemplar) ? list : list.filter(isExemplar);
}

/** `point` with `exemplars` attached (a new object); `point` itself when there are none. */
export function withExemplars<P extends object>(point: P, exemplars: readonly Exemplar[]): P {
  if (exemplars.length === 0) return point;
  return { ...point, exemplars };
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * A Prometheus exemplar as an OpenTelemetry one (OpenTelemetry specification,
 * compatibility/prometheus_and_openmetrics.md, "Exemplars"): the `trace_id` and `span_id`
 * labels become the trace and span ids, every other label an attribute. A `trace_id` or
 * `span_id` that is not an OpenTelemetry id (32 or 16 lowercase hex digits) stays an attribute
 * under its label name, so that it is written back as it was read.
 *
 * @param timestampMs the exemplar's timestamp in milliseconds since the epoch, when it had one
 */
export function fromPrometheusExemplar(
  labels: Readonly<Record<string, string>>,
  value: number,
  timestampMs: number | undefined,
): Exemplar {
  const filteredAttributes: Attributes = {};
  let traceId: string | undefined;
  let spanId: string | undefined;
  for (const [name, text] of Object.entries(labels)) {
    if (name === 'trace_id' && TRACE_ID.test(text)) traceId = text;
    else if (name === 'span_id' && SPAN_ID.test(text)) spanId = text;
    else filteredAttributes[name] = text;
  }
  return {
    filteredAttributes,
    value,
    timestamp: timestampMs === undefined ? undefined : toHrTime(timestampMs),
    ...(traceId === undefined ? {} : { traceId }),
    ...(spanId === undefined ? {} : { spanId }),
  };
}

/**
 * An exemplar's Prometheus labels: its attributes as labels (kit/prometheus/labels.ts), then
 * `trace_id` and `span_id` from its ids, which win over attributes of those names.
 */
export function toPrometheusExemplarLabels(exemplar: Exemplar): Map<string, string> {
  const labels = attributesToLabels(exemplar.filteredAttributes);
  if (exemplar.traceId !== undefined && exemplar.traceId !== '') labels.set('trace_id', exemplar.traceId);
  if (exemplar.spanId !== undefined && exemplar.spanId !== '') labels.set('span_id', exemplar.spanId);
  return labels;
}

/** Milliseconds since the epoch (fractions kept to the nanosecond) as an HrTime. */
function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}
