import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import type { ComponentSettings, MetricSink } from '../kit/component.ts';
import { formatHostPort } from '../kit/config-types.ts';
import { METRICS_EXPORT_PATH, otlpTypes } from '../kit/otlp/proto.ts';
import { createTestSettings } from './support/settings.ts';

class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Settings whose meter can be read back, to check the request counter. */
function readableSettings(): {
  settings: ReturnType<typeof createTestSettings>;
  requests: () => Promise<Record<string, number>>;
} {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const base = createTestSettings('otlp', 'receiver');
  const settings = { ...base, meter: provider.getMeter('test') } satisfies ComponentSettings;
  const requests = async (): Promise<Record<string, number>> => {
    const { resourceMetrics } = await reader.collect();
    const out: Record<string, number> = {};
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'inframeter.receiver.otlp.requests') continue;
        for (const p of metric.dataPoints)
          out[`${String(p.attributes.transport)} ${String(p.attributes.outcome)}`] = p.value as number;
      }
    }
    return out;
  };
  return { settings, requests };
}

function sink(fail = false): MetricSink & { batches: ResourceMetrics[] } {
  const batches: ResourceMetrics[] = [];
  return {
    batches,
    export(batch, callback) {
      if (fail) {
        callback({ code: ExportResultCode.FAILED, error: new Error('exporter queue is broken') });
        return;
      }
      batches.push(batch);
      callback({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startReceiver(config: object, next: MetricSink = sink()) {
  const { settings, requests } = readableSettings();
  const receiver = new OtlpReceiver(settings, otlpReceiverFactory.configSchema.parse(config));
  await receiver.start(next);
  cleanups.push(() => receiver.shutdown());
  const addresses = receiver.addresses();
  return {
    receiver,
    settings,
    requests,
    grpc: formatHostPort(addresses.grpc!),
    http: formatHostPort(addresses.http!),
  };
}

const DEFAULT = { protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } };

/** A valid request with `points` gauge points. */
function validRequest(points = 3): Buffer {
  return Buffer.from(
    otlpTypes.ExportMetricsServiceRequest.encode(
      otlpTypes.ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h' } }] },
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'g',
                    gauge: {
                      dataPoints: Array.from({ length: points }, (_, i) => ({
                        asDouble: i,
                        timeUnixNano: { low: 1e9, high: 0 },
                      })),
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish(),
  );
}

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** POSTs a body; resolves as soon as the answer is complete, even if the server stops reading the upload. */
function post(
  address: string,
  body: Buffer | ((write: (chunk: Buffer) => boolean) => void),
  headers: Record<string, string>,
): Promise<HttpAnswer> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/v1/metrics', method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    // The server may close the connection once it has answered: the rest of the upload fails.
    req.on('error', (error) => {
      reject(error);
    });
    if (typeof body === 'function') body((chunk) => req.write(chunk));
    else req.write(body);
    req.end();
  });
}

function grpcCall(
  address: string,
  message: Buffer,
  metadata = new Metadata(),
  options: Record<string, number> = {},
): Promise<{ error?: ServiceError; response?: Buffer }> {
  const client = new Client(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    ...options,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      METRICS_EXPORT_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      message,
      metadata,
      { deadline: Date.now() + 30_000 },
      (error, response) => {
        client.close();
        resolve(error ? { error } : { response: response! });
      },
    );
  });
}

const protobufHeaders = { 'content-type': 'application/x-protobuf' };

describe('OTLP/HTTP bad input', () => {
  it('answers 400 to garbage and to a truncated message, and keeps serving', async () => {
    const r = await startReceiver(DEFAULT);
    const garbage = await post(
      r.http,
      Buffer.from('\xff\xff\xff\xff definitely not protobuf', 'latin1'),
      protobufHeaders,
    );
    expect(garbage.status).toBe(400);
    const statusMessage = otlpTypes.Status.decode(garbage.body) as unknown as {
      code: number;
      message: string;
    };
    expect(statusMessage.code).toBe(3);
    // What was wrong, where: the message and field being read and the byte offset.
    expect(statusMessage.message).toBe(
      'malformed ExportMetricsServiceRequest (protobuf): ExportMetricsServiceRequest at byte 5: invalid tag: more than 32 bits',
    );
    const valid = validRequest(5);
    const truncated = await post(r.http, valid.subarray(0, valid.length - 7), protobufHeaders);
    expect(truncated.status).toBe(400);
    expect((otlpTypes.Status.decode(truncated.body) as unknown as { message: string }).message).toMatch(
      /^malformed ExportMetricsServiceRequest \(protobuf\): ExportMetricsServiceRequest\.resource_metrics at byte 3: truncated: /,
    );
    const json = await post(r.http, Buffer.from('{"resourceMetrics": [ {'), {
      'content-type': 'application/json',
    });
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body.toString())).toMatchObject({ code: 3 });
    expect((JSON.parse(json.body.toString()) as { message: string }).message).toMatch(
      /^malformed ExportMetricsServiceRequest \(json\): ExportMetricsServiceRequest: not JSON: /,
    );
    const badField = await post(
      r.http,
      Buffer.from(JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 7 }] }] }] })),
      { 'content-type': 'application/json' },
    );
    expect(badField.status).toBe(400);
    expect((JSON.parse(badField.body.toString()) as { message: string }).message).toBe(
      'malformed ExportMetricsServiceRequest (json): Metric.name: expected string: 7',
    );
    const ok = await post(r.http, valid, protobufHeaders);
    expect(ok.status).toBe(200);
    expect(await r.requests()).toEqual({ 'http invalid': 4, 'http ok': 1 });
    expect(r.settings.telemetry.counts.received).toBe(5);
  });

  it('answers 415 to a wrong content type or encoding', async () => {
    const r = await startReceiver(DEFAULT);
    expect((await post(r.http, validRequest(), { 'content-type': 'text/plain' })).status).toBe(415);
    expect(
      (await post(r.http, validRequest(), { ...protobufHeaders, 'content-encoding': 'br' })).status,
    ).toBe(415);
    expect(
      (await post(r.http, gzipSync(validRequest()), { ...protobufHeaders, 'content-encoding': 'gzip' }))
        .status,
    ).toBe(200);
    expect(await r.requests()).toEqual({ 'http unsupported_media_type': 2, 'http ok': 1 });
  });

  it('answers 413 just over max_request_body_size, declared or streamed, compressed or not', async () => {
    const r = await startReceiver({
      protocols: {
        http: { endpoint: '127.0.0.1:0', max_request_body_size: 1000 },
        grpc: { endpoint: '127.0.0.1:0' },
      },
    });
    const over = Buffer.alloc(1001, 0x0a);
    expect((await post(r.http, over, protobufHeaders)).status).toBe(413);
    const chunked = await post(
      r.http,
      (write) => {
        for (let i = 0; i < 11; i += 1) write(Buffer.alloc(100));
      },
      protobufHeaders,
    );
    expect(chunked.status).toBe(413);
    // A gzip bomb: small on the wire, over the limit once inflated.
    const bomb = gzipSync(Buffer.alloc(100_000));
    expect(bomb.length).toBeLessThan(1000);
    expect((await post(r.http, bomb, { ...protobufHeaders, 'content-encoding': 'gzip' })).status).toBe(413);
    expect((await post(r.http, validRequest(), protobufHeaders)).status).toBe(200);
    expect(await r.requests()).toEqual({ 'http too_large': 3, 'http ok': 1 });
  });

  it('answers 413 to a 100 MB request under the default limit (20 MiB) without reading it all', async () => {
    const r = await startReceiver(DEFAULT);
    const chunk = Buffer.alloc(1024 * 1024, 0x0a);
    const answer = await post(
      r.http,
      (write) => {
        for (let i = 0; i < 100; i += 1) write(chunk);
      },
      { ...protobufHeaders, 'content-length': String(100 * 1024 * 1024) },
    ).catch((error: unknown) => error as Error);
    // Either the answer arrived, or the server closed the connection after answering.
    if (answer instanceof Error) expect(answer.message).toMatch(/EPIPE|ECONNRESET|socket hang up/);
    else expect(answer.status).toBe(413);
    expect((await post(r.http, validRequest(), protobufHeaders)).status).toBe(200);
    expect((await r.requests())['http too_large']).toBe(1);
  });

  it('answers 401 to a missing or wrong bearer token', async () => {
    const r = await startReceiver({ ...DEFAULT, auth: { bearer_token: 'right-token' } });
    const missing = await post(r.http, validRequest(), protobufHeaders);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(
      (await post(r.http, validRequest(), { ...protobufHeaders, authorization: 'Bearer wrong-token' }))
        .status,
    ).toBe(401);
    expect(
      (await post(r.http, validRequest(), { ...protobufHeaders, authorization: 'Bearer right-token' }))
        .status,
    ).toBe(200);
    expect(await r.requests()).toEqual({ 'http unauthenticated': 2, 'http ok': 1 });
  });

  it('answers 503 when the pipeline refuses the data, so the client retries', async () => {
    const r = await startReceiver(DEFAULT, sink(true));
    const answer = await post(r.http, validRequest(4), protobufHeaders);
    expect(answer.status).toBe(503);
    expect(r.settings.telemetry.counts.failed).toBe(4);
    expect(await r.requests()).toEqual({ 'http unavailable': 1 });
  });

  it('answers 404 and 405 elsewhere', async () => {
    const r = await startReceiver(DEFAULT);
    const [host, port] = r.http.split(':');
    expect((await fetch(`http://${host}:${port}/v1/traces`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`http://${host}:${port}/v1/metrics`)).status).toBe(405);
  });
});

describe('OTLP/gRPC bad input', () => {
  it('answers INVALID_ARGUMENT to garbage and truncated messages, and keeps serving', async () => {
    const r = await startReceiver(DEFAULT);
    const garbage = await grpcCall(r.grpc, Buffer.from('\xff\xff\xff\xff not protobuf', 'latin1'));
    expect(garbage.error?.code).toBe(status.INVALID_ARGUMENT);
    const valid = validRequest(2);
    expect((await grpcCall(r.grpc, valid.subarray(0, valid.length - 5))).error?.code).toBe(
      status.INVALID_ARGUMENT,
    );
    const ok = await grpcCall(r.grpc, valid);
    expect(ok.error).toBeUndefined();
    expect(await r.requests()).toEqual({ 'grpc invalid': 2, 'grpc ok': 1 });
  });

  it('answers RESOURCE_EXHAUSTED over max_recv_msg_size, and to 100 MB under the default limit', async () => {
    const r = await startReceiver({
      protocols: {
        grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size: 1000 },
        http: { endpoint: '127.0.0.1:0' },
      },
    });
    expect((await grpcCall(r.grpc, Buffer.alloc(1001, 0x0a))).error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await grpcCall(r.grpc, validRequest())).error).toBeUndefined();
    const d = await startReceiver(DEFAULT);
    const huge = await grpcCall(d.grpc, Buffer.alloc(100 * 1024 * 1024, 0x0a));
    expect(huge.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await grpcCall(d.grpc, validRequest())).error).toBeUndefined();
    expect(await r.requests()).toEqual({ 'grpc refused': 1, 'grpc ok': 1 });
    expect(await d.requests()).toEqual({ 'grpc refused': 1, 'grpc ok': 1 });
  });

  it('answers UNAUTHENTICATED to a bad token and UNAVAILABLE when the pipeline fails', async () => {
    const r = await startReceiver({ ...DEFAULT, auth: { bearer_token: 'right-token' } }, sink(true));
    const bad = new Metadata();
    bad.set('authorization', 'Bearer nope');
    expect((await grpcCall(r.grpc, validRequest(), bad)).error?.code).toBe(status.UNAUTHENTICATED);
    const good = new Metadata();
    good.set('authorization', 'Bearer right-token');
    expect((await grpcCall(r.grpc, validRequest(), good)).error?.code).toBe(status.UNAVAILABLE);
    expect(await r.requests()).toEqual({ 'grpc unauthenticated': 1, 'grpc unavailable': 1 });
  });
});
