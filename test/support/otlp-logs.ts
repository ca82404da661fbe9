import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A test OTLP logs backend on loopback: gRPC `LogsService/Export` (grpc-js) and OTLP/HTTP
 * `POST /v1/logs` (node:http), decoding every `ExportLogsServiceRequest` with the messages of
 * the OpenTelemetry protocol specification (`opentelemetry/proto/logs/v1/logs.proto`,
 * `collector/logs/v1/logs_service.proto`; field numbers are the protocol's).
 */
const LOGS_PROTO = `
syntax = "proto3";
package otlp;
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
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs {
  reserved 1000;
  Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
  string schema_url = 3;
}
message ScopeLogs {
  InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
  string schema_url = 3;
}
message LogRecord {
  reserved 4;
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
`;

const root = protobuf.parse(LOGS_PROTO, { keepCase: false }).root;
const Request = root.lookupType('otlp.ExportLogsServiceRequest');
const Response = root.lookupType('otlp.ExportLogsServiceResponse');

/** One decoded log record, flattened with its resource and scope. */
export interface ReceivedLogRecord {
  readonly resource: Record<string, unknown>;
  readonly scope: { name: string; version: string };
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: unknown;
  readonly attributes: Record<string, unknown>;
}

interface DecodedKeyValue {
  key: string;
  value?: Record<string, unknown>;
}

function anyValue(value: Record<string, unknown> | undefined): unknown {
  if (value === undefined) return undefined;
  for (const key of ['stringValue', 'boolValue', 'intValue', 'doubleValue'])
    if (key in value) return value[key];
  return value;
}

function attributesOf(list: DecodedKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

/** Decodes an `ExportLogsServiceRequest` into flat records. */
export function decodeLogsRequest(bytes: Uint8Array): ReceivedLogRecord[] {
  const message = Request.toObject(Request.decode(bytes), { longs: String, defaults: true }) as {
    resourceLogs: {
      resource?: { attributes?: DecodedKeyValue[] };
      scopeLogs: {
        scope?: { name: string; version: string };
        logRecords: {
          timeUnixNano: string;
          observedTimeUnixNano: string;
          severityNumber: number;
          severityText: string;
          body?: Record<string, unknown>;
          attributes?: DecodedKeyValue[];
        }[];
      }[];
    }[];
  };
  return message.resourceLogs.flatMap((rl) =>
    rl.scopeLogs.flatMap((sl) =>
      sl.logRecords.map((r) => ({
        resource: attributesOf(rl.resource?.attributes),
        scope: { name: sl.scope?.name ?? '', version: sl.scope?.version ?? '' },
        timeUnixNano: r.timeUnixNano,
        observedTimeUnixNano: r.observedTimeUnixNano,
        severityNumber: r.severityNumber,
        severityText: r.severityText,
        body: anyValue(r.body),
        attributes: attributesOf(r.attributes),
      })),
    ),
  );
}

/** A running logs backend. */
export interface LogsBackend {
  /** `127.0.0.1:PORT` of the gRPC server. */
  readonly grpcAddress: string;
  /** `http://127.0.0.1:PORT` of the HTTP server. */
  readonly httpUrl: string;
  /** Records received over gRPC and over HTTP, in arrival order. */
  readonly grpc: ReceivedLogRecord[];
  readonly http: ReceivedLogRecord[];
  /** Metadata `authorization` / header values seen per request. */
  readonly authorizations: string[];
  close(): Promise<void>;
}

const EMPTY_RESPONSE = Buffer.from(Response.encode(Response.create({})).finish());

/** Starts both servers on loopback, on ports the system picks. */
export async function startLogsBackend(): Promise<LogsBackend> {
  const grpcRecords: ReceivedLogRecord[] = [];
  const httpRecords: ReceivedLogRecord[] = [];
  const authorizations: string[] = [];
  const grpc = new Server();
  grpc.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    {
      Export: (
        call: { request: Buffer; metadata: { get(key: string): (string | Buffer)[] } },
        callback: (error: Error | null, response: Buffer) => void,
      ) => {
        authorizations.push(call.metadata.get('authorization')[0]?.toString() ?? '');
        grpcRecords.push(...decodeLogsRequest(call.request));
        callback(null, EMPTY_RESPONSE);
      },
    },
  );
  const grpcPort = await new Promise<number>((resolve, reject) => {
    grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(error);
      else resolve(port);
    });
  });
  const http: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/logs') {
        res.writeHead(404).end();
        return;
      }
      authorizations.push(req.headers.authorization ?? '');
      const body = Buffer.concat(chunks);
      const gzipped = req.headers['content-encoding'] === 'gzip';
      httpRecords.push(...decodeLogsRequest(gzipped ? gunzipSync(body) : body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(EMPTY_RESPONSE);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port: httpPort } = http.address() as AddressInfo;
  return {
    grpcAddress: `127.0.0.1:${String(grpcPort)}`,
    httpUrl: `http://127.0.0.1:${String(httpPort)}`,
    grpc: grpcRecords,
    http: httpRecords,
    authorizations,
    async close() {
      grpc.forceShutdown();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
