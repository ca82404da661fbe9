/**
 * Field numbers of the OTLP messages the decoder reads, named after the fields of the
 * `.proto` files of opentelemetry-proto v1 (`opentelemetry/proto/common/v1/common.proto`,
 * `resource/v1/resource.proto`, `metrics/v1/metrics.proto`,
 * `collector/metrics/v1/metrics_service.proto`). One object per message, named after it;
 * the messages of common.proto and resource.proto are those every signal (metrics, logs,
 * traces) shares.
 */

/** Protobuf wire types (the low three bits of a tag). */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

// ─── common.proto ────────────────────────────────────────────────────────────

export const AnyValue = {
  string_value: 1,
  bool_value: 2,
  int_value: 3,
  double_value: 4,
  array_value: 5,
  kvlist_value: 6,
  bytes_value: 7,
} as const;

export const ArrayValue = { values: 1 } as const;

export const KeyValueList = { values: 1 } as const;

export const KeyValue = { key: 1, value: 2 } as const;

export const InstrumentationScope = {
  name: 1,
  version: 2,
  attributes: 3,
  dropped_attributes_count: 4,
} as const;

// ─── resource.proto ──────────────────────────────────────────────────────────

export const Resource = { attributes: 1, dropped_attributes_count: 2 } as const;

// ─── metrics.proto and metrics_service.proto ─────────────────────────────────

export const ExportMetricsServiceRequest = { resource_metrics: 1 } as const;

export const ResourceMetrics = { resource: 1, scope_metrics: 2, schema_url: 3 } as const;

export const ScopeMetrics = { scope: 1, metrics: 2, schema_url: 3 } as const;

export const Metric = {
  name: 1,
  description: 2,
  unit: 3,
  gauge: 5,
  sum: 7,
  histogram: 9,
  exponential_histogram: 10,
  summary: 11,
  metadata: 12,
} as const;

/** Gauge and Summary hold data points only; Sum, Histogram and ExponentialHistogram add a temporality. */
export const Gauge = { data_points: 1 } as const;

export const Sum = { data_points: 1, aggregation_temporality: 2, is_monotonic: 3 } as const;

export const Histogram = { data_points: 1, aggregation_temporality: 2 } as const;

export const ExponentialHistogram = { data_points: 1, aggregation_temporality: 2 } as const;

export const Summary = { data_points: 1 } as const;

export const NumberDataPoint = {
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  as_double: 4,
  exemplars: 5,
  as_int: 6,
  attributes: 7,
  flags: 8,
} as const;

export const HistogramDataPoint = {
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  bucket_counts: 6,
  explicit_bounds: 7,
  exemplars: 8,
  attributes: 9,
  flags: 10,
  min: 11,
  max: 12,
} as const;

export const ExponentialHistogramDataPoint = {
  attributes: 1,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  scale: 6,
  zero_count: 7,
  positive: 8,
  negative: 9,
  flags: 10,
  exemplars: 11,
  min: 12,
  max: 13,
  zero_threshold: 14,
} as const;

/** ExponentialHistogramDataPoint.Buckets */
export const Buckets = { offset: 1, bucket_counts: 2 } as const;

export const SummaryDataPoint = {
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  quantile_values: 6,
  attributes: 7,
  flags: 8,
} as const;

/** SummaryDataPoint.ValueAtQuantile */
export const ValueAtQuantile = { quantile: 1, value: 2 } as const;

export const Exemplar = {
  time_unix_nano: 2,
  as_double: 3,
  span_id: 4,
  trace_id: 5,
  as_int: 6,
  filtered_attributes: 7,
} as const;

/** Every message above by its name, for the field names in decoding errors. */
export const MESSAGE_FIELDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  AnyValue,
  ArrayValue,
  KeyValueList,
  KeyValue,
  InstrumentationScope,
  Resource,
  ExportMetricsServiceRequest,
  ResourceMetrics,
  ScopeMetrics,
  Metric,
  Gauge,
  Sum,
  Histogram,
  ExponentialHistogram,
  Summary,
  NumberDataPoint,
  HistogramDataPoint,
  ExponentialHistogramDataPoint,
  Buckets,
  SummaryDataPoint,
  ValueAtQuantile,
  Exemplar,
};

/** The name of field `number` of `message` (`NumberDataPoint`, 7 → `attributes`), or `field 7`. */
export function fieldName(message: string, number: number): string {
  const fields = MESSAGE_FIELDS[message];
  if (fields !== undefined) {
    for (const [name, n] of Object.entries(fields)) if (n === number) return name;
  }
  return `field ${number}`;
}
