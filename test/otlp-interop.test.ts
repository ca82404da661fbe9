import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as JsonMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  InstrumentType,
  MetricData,
  PushMetricExporter,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import type { MetricSink } from '../kit/component.ts';
import { formatHostPort } from '../kit/config-types.ts';
import { decodeBatches } from '../kit/otlp/decode.ts';
import { METRICS_EXPORT_PATH, otlpTypes } from '../kit/otlp/proto.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { createTestSettings } from './support/settings.ts';

const TLS_DIR = join(import.meta.dirname, '../receivers/otlp/testdata/fixtures/tls');
const tlsFile = (name: string): string => join(TLS_DIR, name);

/** A pipeline head that keeps what it is given. */
function memorySink(): MetricSink & { batches: ResourceMetrics[] } {
  const batches: ResourceMetrics[] = [];
  return {
    batches,
    export(batch, callback) {
      batches.push(batch);
      callback({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** Hands each collection to every exporter: the same ResourceMetrics reach the OTLP exporter and the reference. */
function tee(primary: PushMetricExporter, reference: InMemoryMetricExporter): PushMetricExporter {
  return {
    export(metrics, callback) {
      reference.export(metrics, () => undefined);
      primary.export(metrics, callback);
    },
    forceFlush: async () => {
      await primary.forceFlush();
    },
    shutdown: async () => {
      await primary.shutdown();
    },
    selectAggregationTemporality: (type: InstrumentType) =>
      primary.selectAggregationTemporality?.(type) ?? AggregationTemporality.CUMULATIVE,
  };
}

/** Records every instrument kind, int and double, with attributes of every type. */
function recordEverything(provider: MeterProvider): void {
  const meter = provider.getMeter('interop-app', '2.0.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
  });
  const attrs = { 'http.route': '/users', status: 200, ok: true, ratio: 0.75, tags: ['a', 'b'] };
  meter
    .createCounter('app.requests', { unit: '{request}', description: 'Requests.', valueType: ValueType.INT })
    .add(5, attrs);
  meter.createCounter('app.bytes', { unit: 'By' }).add(1234.5, { dir: 'in' });
  meter.createUpDownCounter('app.connections', { valueType: ValueType.INT }).add(-2, { pool: 'db' });
  meter.createGauge('app.temperature', { unit: 'Cel' }).record(21.5, { room: 'lab' });
  const latency = meter.createHistogram('app.latency', {
    unit: 's',
    advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
  });
  for (const v of [0.005, 0.05, 0.5, 5]) latency.record(v, { route: '/x' });
  const sizes = meter.createHistogram('app.payload.size', { unit: 'By' });
  for (const v of [0, 1, 100, 10_000, 1e6]) sizes.record(v);
  meter.createObservableCounter('app.cpu.time', { unit: 's' }).addCallback((r) => {
    r.observe(12.25, { 'cpu.mode': 'user' });
    r.observe(3.5, { 'cpu.mode': 'system' });
  });
  meter.createObservableUpDownCounter('app.queue.length', { valueType: ValueType.INT }).addCallback((r) => {
    r.observe(7);
  });
  meter
    .createObservableGauge('app.memory.usage', { unit: 'By', valueType: ValueType.INT })
    .addCallback((r) => {
      r.observe(2 ** 40 + 3, { kind: 'heap' });
    });
}

/** A metric as comparable data: what the SDK model says, nothing implementation-specific. */
function comparable(metric: MetricData): unknown {
  return {
    descriptor: {
      name: metric.descriptor.name,
      description: metric.descriptor.description,
      unit: metric.descriptor.unit,
      valueType: metric.descriptor.valueType,
    },
    dataPointType: metric.dataPointType,
    // OTLP gauges carry no temporality.
    aggregationTemporality:
      metric.dataPointType === DataPointType.GAUGE ? 'n/a' : metric.aggregationTemporality,
    isMonotonic: metric.dataPointType === DataPointType.SUM ? metric.isMonotonic : 'n/a',
    dataPoints: metric.dataPoints,
  };
}

function comparableBatch(batch: ResourceMetrics): unknown {
  return {
    resource: batch.resource.attributes,
    scopes: batch.scopeMetrics.map((s) => ({
      scope: { name: s.scope.name, version: s.scope.version ?? '', schemaUrl: s.scope.schemaUrl },
      metrics: [...s.metrics]
        .sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name))
        .map(comparable),
    })),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startReceiver(
  config: unknown = { protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
) {
  const settings = createTestSettings('otlp', 'receiver');
  const receiver = new OtlpReceiver(settings, otlpReceiverFactory.configSchema.parse(config));
  const sink = memorySink();
  await receiver.start(sink);
  cleanups.push(() => receiver.shutdown());
  return { receiver, sink, settings, addresses: receiver.addresses() };
}

async function waitFor(condition: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('official OpenTelemetry JS exporters → our receiver', () => {
  const cases: { name: string; make: (grpc: string, http: string) => PushMetricExporter; delta?: boolean }[] =
    [
      { name: 'OTLP/gRPC', make: (grpc) => new GrpcMetricExporter({ url: `http://${grpc}` }) },
      {
        name: 'OTLP/gRPC with gzip and delta temporality',
        make: (grpc) =>
          new GrpcMetricExporter({
            url: `http://${grpc}`,
            compression: 'gzip' as never,
            temporalityPreference: AggregationTemporalityPreference.DELTA,
          }),
        delta: true,
      },
      {
        name: 'OTLP/HTTP protobuf',
        make: (_, http) => new ProtoMetricExporter({ url: `http://${http}/v1/metrics` }),
      },
      {
        name: 'OTLP/HTTP JSON',
        make: (_, http) =>
          new JsonMetricExporter({
            url: `http://${http}/v1/metrics`,
            temporalityPreference: AggregationTemporalityPreference.DELTA,
          }),
        delta: true,
      },
    ];

  for (const { name, make, delta } of cases) {
    it(`${name}: every instrument kind arrives as the SDK produced it`, async () => {
      const { sink, addresses, settings } = await startReceiver();
      const reference = new InMemoryMetricExporter(
        delta === true ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      );
      const exporter = make(formatHostPort(addresses.grpc!), formatHostPort(addresses.http!));
      const reader = new PeriodicExportingMetricReader({
        exporter: tee(exporter, reference),
        exportIntervalMillis: 3_600_000,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({
          'service.name': 'interop-app',
          'host.name': 'node-7',
          'host.cpu.count': 8,
        }),
        readers: [reader],
        views: [
          {
            instrumentName: 'app.payload.size',
            aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
          },
        ],
      });
      recordEverything(provider);
      await provider.forceFlush();
      const expected = reference.getMetrics();
      expect(expected).toHaveLength(1);
      await waitFor(() => sink.batches.length === 1);
      expect(comparableBatch(sink.batches[0]!)).toEqual(comparableBatch(expected[0]!));
      const kinds = new Set(expected[0]!.scopeMetrics[0]!.metrics.map((m) => m.dataPointType));
      expect(kinds).toEqual(
        new Set([
          DataPointType.SUM,
          DataPointType.GAUGE,
          DataPointType.HISTOGRAM,
          DataPointType.EXPONENTIAL_HISTOGRAM,
        ]),
      );
      expect(settings.telemetry.counts.received).toBe(countPoints(expected[0]!));
      expect(settings.telemetry.counts.exported).toBe(countPoints(expected[0]!));
      await provider.shutdown();
    });
  }

  it('answers partial success in a form the official client decodes', async () => {
    const { addresses, settings } = await startReceiver();
    const time = { low: 1_000_000_000, high: 0 };
    const body = otlpTypes.ExportMetricsServiceRequest.encode(
      otlpTypes.ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  { name: 'ok', gauge: { dataPoints: [{ asInt: 1, timeUnixNano: time }] } },
                  {
                    name: 'bad',
                    sum: {
                      dataPoints: [
                        { asInt: 1, timeUnixNano: time },
                        { asInt: 2, timeUnixNano: time },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const response = await fetch(`http://${formatHostPort(addresses.http!)}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body,
    });
    expect(response.status).toBe(200);
    const decoded = ProtobufMetricsSerializer.deserializeResponse(
      new Uint8Array(await response.arrayBuffer()),
    );
    expect(decoded.partialSuccess).toEqual({
      rejectedDataPoints: 2,
      errorMessage: 'metric "bad": sum with unspecified aggregation_temporality',
    });
    expect(settings.telemetry.counts.dropped.get('invalid')).toBe(2);
    expect(settings.telemetry.counts.received).toBe(1);
  });
});

/** A batch of every SDK point kind, collected from a provider. */
async function sdkBatch(): Promise<ResourceMetrics> {
  const reference = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: reference, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'inframeter', 'host.name': 'agent-1' }),
    readers: [reader],
    views: [
      { instrumentName: 'app.payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ],
  });
  recordEverything(provider);
  await provider.forceFlush();
  await provider.shutdown();
  return reference.getMetrics()[0]!;
}

interface Captured {
  readonly bytes: Buffer;
  readonly headers: Record<string, unknown>;
}

/** A raw gRPC server for the OTLP method, keeping the request bytes and metadata. */
async function rawGrpcServer(
  credentials = ServerCredentials.createInsecure(),
): Promise<{ port: number; captured: Captured[] }> {
  const captured: Captured[] = [];
  const server = new Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      Export: {
        path: METRICS_EXPORT_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        captured.push({ bytes: call.request, headers: call.metadata.getMap() });
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (error, p) => {
      if (error) reject(error);
      else resolve(p);
    });
  });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  );
  return { port, captured };
}

/** A raw HTTP server keeping each request's (gunzipped) body and headers. */
async function rawHttpServer(): Promise<{ port: number; captured: Captured[] }> {
  const captured: Captured[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      captured.push({
        bytes: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw,
        headers: req.headers,
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  );
  return { port: (server.address() as AddressInfo).port, captured };
}

function exporter(config: object): OtlpExporter {
  const settings = createTestSettings('otlp', 'exporter');
  const created = new OtlpExporter(settings, otlpExporterFactory.configSchema.parse(config));
  cleanups.push(() => created.shutdown());
  return created;
}

function send(exp: OtlpExporter, batch: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    exp.export(batch, resolve);
  });
}

describe('our exporter → raw servers', () => {
  it('OTLP/gRPC: the request is the official serializer’s bytes, with the headers', async () => {
    const { port, captured } = await rawGrpcServer();
    const exp = exporter({
      endpoint: `127.0.0.1:${port}`,
      tls: { insecure: true },
      headers: { Authorization: 'Bearer s3cret' },
    });
    await exp.start();
    const batch = await sdkBatch();
    expect((await send(exp, batch)).code).toBe(ExportResultCode.SUCCESS);
    await exp.forceFlush();
    await waitFor(() => captured.length === 1);
    const official = Buffer.from(ProtobufMetricsSerializer.serializeRequest(batch)!);
    expect(captured[0]!.bytes.equals(official)).toBe(true);
    expect(captured[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(String(captured[0]!.headers['user-agent'])).toMatch(/^inframeter\//);
    // And our decoder reads it back to the same data.
    expect(decodeBatches(captured[0]!.bytes)).toHaveLength(1);
    expect(comparableBatch(decodeBatches(captured[0]!.bytes)[0]!)).toEqual(comparableBatch(batch));
  });

  it('OTLP/HTTP: gzip body of the official serializer’s bytes, protobuf content type, headers', async () => {
    const { port, captured } = await rawHttpServer();
    const exp = exporter({
      endpoint: `http://127.0.0.1:${port}`,
      protocol: 'http/protobuf',
      headers: { 'X-Scope-OrgID': 'tenant-1' },
    });
    await exp.start();
    const batch = await sdkBatch();
    await send(exp, batch);
    await exp.forceFlush();
    await waitFor(() => captured.length === 1);
    expect(captured[0]!.headers).toMatchObject({
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
      'x-scope-orgid': 'tenant-1',
    });
    expect(captured[0]!.bytes.equals(Buffer.from(ProtobufMetricsSerializer.serializeRequest(batch)!))).toBe(
      true,
    );
  });

  it('OTLP/gRPC without compression, to a server the official gRPC exporter also reaches', async () => {
    const { port, captured } = await rawGrpcServer();
    const exp = exporter({ endpoint: `http://127.0.0.1:${port}`, compression: 'none' });
    await exp.start();
    const batch = await sdkBatch();
    await send(exp, batch);
    const official = new GrpcMetricExporter({ url: `http://127.0.0.1:${port}` });
    await new Promise<void>((resolve) => {
      official.export(batch, () => {
        resolve();
      });
    });
    await official.shutdown();
    await exp.forceFlush();
    await waitFor(() => captured.length === 2);
    expect(captured[0]!.bytes.equals(captured[1]!.bytes)).toBe(true);
  });
});

describe('TLS', () => {
  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`${protocol}: mutual TLS with a private CA, our exporter to our receiver`, async () => {
      const tls = {
        cert_file: tlsFile('server.crt'),
        key_file: tlsFile('server.key'),
        client_ca_file: tlsFile('ca.crt'),
      };
      const { addresses, sink } = await startReceiver({
        protocols: { grpc: { endpoint: '127.0.0.1:0', tls }, http: { endpoint: '127.0.0.1:0', tls } },
        auth: { bearer_token: 'tok-123' },
      });
      const address = protocol === 'grpc' ? addresses.grpc! : addresses.http!;
      const exp = exporter({
        endpoint: `https://localhost:${address.port}`,
        protocol,
        tls: {
          ca_file: tlsFile('ca.crt'),
          cert_file: tlsFile('client.crt'),
          key_file: tlsFile('client.key'),
        },
        headers: { authorization: 'Bearer tok-123' },
        sending_queue: { enabled: false },
        retry_on_failure: { enabled: false },
      });
      await exp.start();
      const batch = await sdkBatch();
      const result = await send(exp, batch);
      expect(result.error?.message).toBeUndefined();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      expect(countPoints(sink.batches[0]!)).toBe(countPoints(batch));
    });

    it(`${protocol}: a client without a certificate is refused`, async () => {
      const tls = {
        cert_file: tlsFile('server.crt'),
        key_file: tlsFile('server.key'),
        client_ca_file: tlsFile('ca.crt'),
      };
      const { addresses, sink } = await startReceiver({
        protocols: { grpc: { endpoint: '127.0.0.1:0', tls }, http: { endpoint: '127.0.0.1:0', tls } },
      });
      const address = protocol === 'grpc' ? addresses.grpc! : addresses.http!;
      const exp = exporter({
        endpoint: `https://localhost:${address.port}`,
        protocol,
        tls: { ca_file: tlsFile('ca.crt') },
        timeout: '3s',
        sending_queue: { enabled: false },
        retry_on_failure: { enabled: false },
      });
      await exp.start();
      const result = await send(exp, await sdkBatch());
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(sink.batches).toHaveLength(0);
    });
  }

  it('reads the CA file at start and fails clearly when it is missing', async () => {
    const exp = exporter({ endpoint: 'https://localhost:1', tls: { ca_file: '/nonexistent/ca.pem' } });
    await expect(exp.start()).rejects.toThrow('tls.ca_file: cannot read /nonexistent/ca.pem');
    expect(readFileSync(tlsFile('ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(status.OK).toBe(0);
  });
});
