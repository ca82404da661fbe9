import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import type { Long, Type } from 'protobufjs';

/**
 * The OTLP metrics messages (OpenTelemetry protocol, `opentelemetry-proto` v1: common,
 * resource, metrics and the metrics collector service), with the `google.rpc.Status` and
 * `RetryInfo` messages that gRPC and OTLP/HTTP use for errors and throttling. No npm package
 * ships the `.proto` files, so the messages are declared here from the published
 * specification; field numbers and types are the protocol's. They serve the responses and
 * statuses, the summaries the encoder writes beside the official serializer's output
 * (encode.ts), OTLP/JSON (json.ts), and the tests; the decoder (decode.ts) reads the wire
 * itself.
 *
 * A few scalar fields are declared `optional` (explicit presence) where the specification
 * has plain proto3 fields: the data point timestamps and counts, an exponential histogram's
 * `zero_count`, a resource's `dropped_attributes_count`. The wire format is the same; the
 * difference is only that protobufjs then writes a zero that was set, as the official
 * serializer does. Decoding treats an absent one as 0.
 *
 * Deprecated and removed fields (`labels`, `int_gauge`, `int_sum`, `int_histogram`) are
 * reserved, as in the specification, and therefore skipped when present.
 */
const OTLP_PROTO = `
syntax = "proto3";

package opentelemetry.proto.common.v1;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue {
  string key = 1;
  AnyValue value = 2;
}
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
`;

const RESOURCE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.resource.v1;
message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  optional uint32 dropped_attributes_count = 2;
}
`;

const METRICS_PROTO = `
syntax = "proto3";
package opentelemetry.proto.metrics.v1;

message MetricsData { repeated ResourceMetrics resource_metrics = 1; }

message ResourceMetrics {
  reserved 1000;
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeMetrics scope_metrics = 2;
  string schema_url = 3;
}

message ScopeMetrics {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Metric metrics = 2;
  string schema_url = 3;
}

message Metric {
  reserved 4, 6, 8;
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10;
    Summary summary = 11;
  }
  repeated opentelemetry.proto.common.v1.KeyValue metadata = 12;
}

message Gauge { repeated NumberDataPoint data_points = 1; }

message Sum {
  repeated NumberDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
  bool is_monotonic = 3;
}

message Histogram {
  repeated HistogramDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
}

message ExponentialHistogram {
  repeated ExponentialHistogramDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
}

message Summary { repeated SummaryDataPoint data_points = 1; }

enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0;
  AGGREGATION_TEMPORALITY_DELTA = 1;
  AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}

enum DataPointFlags {
  DATA_POINT_FLAGS_DO_NOT_USE = 0;
  DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK = 1;
}

message NumberDataPoint {
  reserved 1;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 7;
  optional fixed64 start_time_unix_nano = 2;
  optional fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
  repeated Exemplar exemplars = 5;
  uint32 flags = 8;
}

message HistogramDataPoint {
  reserved 1;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  optional fixed64 start_time_unix_nano = 2;
  optional fixed64 time_unix_nano = 3;
  optional fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  repeated Exemplar exemplars = 8;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}

message ExponentialHistogramDataPoint {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  optional fixed64 start_time_unix_nano = 2;
  optional fixed64 time_unix_nano = 3;
  optional fixed64 count = 4;
  optional double sum = 5;
  sint32 scale = 6;
  optional fixed64 zero_count = 7;
  Buckets positive = 8;
  Buckets negative = 9;
  message Buckets {
    sint32 offset = 1;
    repeated uint64 bucket_counts = 2;
  }
  uint32 flags = 10;
  repeated Exemplar exemplars = 11;
  optional double min = 12;
  optional double max = 13;
  double zero_threshold = 14;
}

message SummaryDataPoint {
  reserved 1;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 7;
  optional fixed64 start_time_unix_nano = 2;
  optional fixed64 time_unix_nano = 3;
  optional fixed64 count = 4;
  double sum = 5;
  message ValueAtQuantile {
    double quantile = 1;
    double value = 2;
  }
  repeated ValueAtQuantile quantile_values = 6;
  uint32 flags = 8;
}

message Exemplar {
  reserved 1;
  repeated opentelemetry.proto.common.v1.KeyValue filtered_attributes = 7;
  fixed64 time_unix_nano = 2;
  oneof value {
    double as_double = 3;
    sfixed64 as_int = 6;
  }
  bytes span_id = 4;
  bytes trace_id = 5;
}
`;

const SERVICE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.metrics.v1;

service MetricsService {
  rpc Export(ExportMetricsServiceRequest) returns (ExportMetricsServiceResponse) {}
}
message ExportMetricsServiceRequest {
  repeated opentelemetry.proto.metrics.v1.ResourceMetrics resource_metrics = 1;
}
message ExportMetricsServiceResponse {
  ExportMetricsPartialSuccess partial_success = 1;
}
message ExportMetricsPartialSuccess {
  int64 rejected_data_points = 1;
  string error_message = 2;
}
`;

const GOOGLE_PROTO = `
syntax = "proto3";
package google.protobuf;
message Any {
  string type_url = 1;
  bytes value = 2;
}
message Duration {
  int64 seconds = 1;
  int32 nanos = 2;
}
`;

const RPC_PROTO = `
syntax = "proto3";
package google.rpc;
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
message RetryInfo { google.protobuf.Duration retry_delay = 1; }
`;

const require = createRequire(import.meta.url);

function buildRoot(): Protobuf.Root {
  const protobuf = require('protobufjs') as typeof Protobuf;
  const root = new protobuf.Root();
  for (const source of [OTLP_PROTO, RESOURCE_PROTO, METRICS_PROTO, SERVICE_PROTO, GOOGLE_PROTO, RPC_PROTO]) {
    protobuf.parse(source, root, { keepCase: false });
  }
  root.resolveAll();
  return root;
}

/** The OTLP message types the collector encodes and decodes. */
export interface OtlpTypes {
  readonly ExportMetricsServiceRequest: Type;
  readonly ExportMetricsServiceResponse: Type;
  readonly MetricsData: Type;
  readonly Status: Type;
  readonly RetryInfo: Type;
}

let types: OtlpTypes | undefined;

/**
 * Parses the declarations on first use: protobufjs and the parsed types are a few MB that a
 * collector with no OTLP component (the default pipeline) never needs.
 */
function loadTypes(): OtlpTypes {
  if (types === undefined) {
    const root = buildRoot();
    types = {
      ExportMetricsServiceRequest: root.lookupType(
        'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
      ),
      ExportMetricsServiceResponse: root.lookupType(
        'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
      ),
      MetricsData: root.lookupType('opentelemetry.proto.metrics.v1.MetricsData'),
      Status: root.lookupType('google.rpc.Status'),
      RetryInfo: root.lookupType('google.rpc.RetryInfo'),
    };
  }
  return types;
}

/** The reflected OTLP types, by their protocol names (parsed when one is first used). */
export const otlpTypes: OtlpTypes = {
  get ExportMetricsServiceRequest() {
    return loadTypes().ExportMetricsServiceRequest;
  },
  get ExportMetricsServiceResponse() {
    return loadTypes().ExportMetricsServiceResponse;
  },
  get MetricsData() {
    return loadTypes().MetricsData;
  },
  get Status() {
    return loadTypes().Status;
  },
  get RetryInfo() {
    return loadTypes().RetryInfo;
  },
};

/** The gRPC method path of the OTLP metrics service. */
export const METRICS_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** `type_url` of a `google.rpc.RetryInfo` detail in a `google.rpc.Status`. */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** A 64-bit integer as protobufjs decodes it (a `Long`), or a number when small. */
export type Int64 = Long | number;

/** `AggregationTemporality` enum values of the protocol. */
export const OTLP_TEMPORALITY = { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 } as const;

/** `DataPointFlags.NO_RECORDED_VALUE_MASK`: the point carries no value (a staleness marker). */
export const FLAG_NO_RECORDED_VALUE = 1;

export interface OtlpExportResponse {
  partialSuccess?: { rejectedDataPoints: Int64; errorMessage: string } | null;
}

export interface RpcStatus {
  code: number;
  message: string;
  details: { typeUrl: string; value: Uint8Array }[];
}
