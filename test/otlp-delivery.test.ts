import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import { formatHostPort } from '../kit/config-types.ts';
import { decodeBatches } from '../kit/otlp/decode.ts';
import { METRICS_EXPORT_PATH, otlpTypes, RETRY_INFO_TYPE_URL } from '../kit/otlp/proto.ts';
import { createLogger } from '../kit/logger.ts';
import type { Logger } from '../kit/logger.ts';
import { createTestSettings } from './support/settings.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A batch of `points` gauge points; the first value is `id * 1000`, to check order. */
function batch(id: number, points = 2): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'agent' }),
    scopeMetrics: [
      {
        scope: { name: 'test' },
        metrics: [
          {
            descriptor: { name: 'g', description: '', unit: '1', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: Array.from({ length: points }, (_, i) => ({
              startTime: [1, 0] as [number, number],
              endTime: [2, 0] as [number, number],
              attributes: { i },
              value: id * 1000 + i,
            })),
          },
        ],
      },
    ],
  };
}

const firstValue = (b: ResourceMetrics): number =>
  b.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as number;

function makeExporter(config: object, logger?: Logger) {
  const settings = { ...createTestSettings('otlp', 'exporter'), ...(logger === undefined ? {} : { logger }) };
  const exporter = new OtlpExporter(settings, otlpExporterFactory.configSchema.parse(config));
  cleanups.push(() => exporter.shutdown());
  return { exporter, settings };
}

function send(exporter: OtlpExporter, b: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    exporter.export(b, resolve);
  });
}

/** An HTTP server answering from a script of statuses (then 200), recording arrival times. */
async function scriptedHttp(script: { status: number; headers?: Record<string, string> }[]) {
  const arrivals: { time: number; body: Buffer }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      arrivals.push({ time: performance.now(), body: Buffer.concat(chunks) });
      const next = script.shift() ?? { status: 200 };
      res.writeHead(next.status, { 'content-type': 'application/x-protobuf', ...next.headers });
      res.end(
        next.status === 200
          ? Buffer.alloc(0)
          : otlpTypes.Status.encode({ code: 14, message: `status ${next.status}` }).finish(),
      );
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals };
}

async function waitFor(condition: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fastRetry = { initial_interval: '50ms', max_interval: '400ms', multiplier: 2, randomization_factor: 0 };

describe('OTLP/HTTP delivery', () => {
  it('retries 503 with exponential backoff, then delivers', async () => {
    const server = await scriptedHttp([{ status: 503 }, { status: 503 }, { status: 502 }]);
    const { exporter, settings } = makeExporter({
      endpoint: server.url,
      protocol: 'http/protobuf',
      compression: 'none',
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    expect((await send(exporter, batch(1))).code).toBe(ExportResultCode.SUCCESS);
    await waitFor(() => exporter.status().sentPoints === 2);
    expect(server.arrivals).toHaveLength(4);
    const waits = server.arrivals.slice(1).map((a, i) => a.time - server.arrivals[i]!.time);
    expect(waits[0]).toBeGreaterThanOrEqual(45);
    expect(waits[1]).toBeGreaterThanOrEqual(95);
    expect(waits[2]).toBeGreaterThanOrEqual(195);
    expect(settings.telemetry.counts.failed).toBe(0);
  });

  it('waits as long as Retry-After says on 429', async () => {
    const server = await scriptedHttp([{ status: 429, headers: { 'retry-after': '1' } }]);
    const { exporter } = makeExporter({
      endpoint: server.url,
      protocol: 'http/protobuf',
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    await send(exporter, batch(1));
    await waitFor(() => exporter.status().sentPoints === 2);
    expect(server.arrivals[1]!.time - server.arrivals[0]!.time).toBeGreaterThanOrEqual(990);
  });

  it('does not retry 400: the batch is counted failed and the next one goes', async () => {
    const server = await scriptedHttp([{ status: 400 }]);
    const { exporter, settings } = makeExporter({
      endpoint: server.url,
      protocol: 'http/protobuf',
      compression: 'none',
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    await send(exporter, batch(1, 3));
    await send(exporter, batch(2, 2));
    await waitFor(() => exporter.status().queuedBatches === 0);
    expect(server.arrivals.map((a) => firstValue(decodeBatches(a.body)[0]!))).toEqual([1000, 2000]);
    expect(settings.telemetry.counts.failed).toBe(3);
    expect(exporter.status().sentPoints).toBe(2);
  });

  it('retries while the server is down (connection refused) and delivers once it is up', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) =>
      probe.close(() => {
        resolve();
      }),
    );
    // The exporter's log tells when a send has failed.
    const logLines: string[] = [];
    const { exporter } = makeExporter(
      {
        endpoint: `http://127.0.0.1:${port}`,
        protocol: 'http/protobuf',
        retry_on_failure: fastRetry,
      },
      createLogger('warn', { write: (line: string) => logLines.push(line) }),
    );
    await exporter.start();
    await send(exporter, batch(1));
    await waitFor(() => logLines.some((line) => line.includes('ECONNREFUSED')));
    expect(exporter.status()).toMatchObject({ queuedBatches: 1, sentPoints: 0 });
    const received: Buffer[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks));
        res.writeHead(200).end();
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(
      () =>
        new Promise((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    );
    await waitFor(() => exporter.status().sentPoints === 2);
    expect(received).toHaveLength(1);
  });
});

describe('timeouts', () => {
  it('OTLP/HTTP: a server that does not answer in time is a retryable failure', async () => {
    const server = createServer(() => {
      // Never answers.
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    );
    const { exporter } = makeExporter({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      protocol: 'http/protobuf',
      timeout: '300ms',
      sending_queue: { enabled: false },
      retry_on_failure: { enabled: false },
    });
    await exporter.start();
    const started = performance.now();
    const result = await send(exporter, batch(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/request timed out after 300 ms/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('OTLP/gRPC: the deadline is the timeout (DEADLINE_EXCEEDED)', async () => {
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
        Export: () => {
          // Never answers.
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) => {
        if (error) reject(error);
        else resolve(p);
      });
    });
    cleanups.push(() => {
      server.forceShutdown();
      return Promise.resolve();
    });
    const { exporter } = makeExporter({
      endpoint: `127.0.0.1:${port}`,
      tls: { insecure: true },
      timeout: '300ms',
      sending_queue: { enabled: false },
      retry_on_failure: { enabled: false },
    });
    await exporter.start();
    const result = await send(exporter, batch(1));
    expect(result.error?.message).toMatch(/^gRPC DEADLINE_EXCEEDED/);
  });
});

/** A gRPC server answering from a script of errors (then OK). */
async function scriptedGrpc(script: (Partial<ServiceError> & { code: status })[]) {
  const arrivals: number[] = [];
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
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        arrivals.push(performance.now());
        const next = script.shift();
        if (next === undefined) callback(null, Buffer.alloc(0));
        else callback(next);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) => {
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
  return { endpoint: `127.0.0.1:${port}`, arrivals };
}

function retryInfo(seconds: number): Metadata {
  const info = otlpTypes.RetryInfo.encode({ retryDelay: { seconds, nanos: 0 } }).finish();
  const detail = otlpTypes.Status.encode({
    code: status.RESOURCE_EXHAUSTED,
    message: 'slow down',
    details: [{ typeUrl: RETRY_INFO_TYPE_URL, value: info }],
  }).finish();
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(detail));
  return metadata;
}

describe('OTLP/gRPC delivery', () => {
  it('retries UNAVAILABLE and DEADLINE_EXCEEDED, then delivers', async () => {
    const server = await scriptedGrpc([
      { code: status.UNAVAILABLE, details: 'down' },
      { code: status.DEADLINE_EXCEEDED, details: 'slow' },
    ]);
    const { exporter, settings } = makeExporter({
      endpoint: server.endpoint,
      tls: { insecure: true },
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    await send(exporter, batch(1));
    await waitFor(() => exporter.status().sentPoints === 2);
    expect(server.arrivals).toHaveLength(3);
    expect(settings.telemetry.counts.failed).toBe(0);
  });

  it('retries RESOURCE_EXHAUSTED only with RetryInfo, after the delay it gives', async () => {
    const server = await scriptedGrpc([
      { code: status.RESOURCE_EXHAUSTED, details: 'throttled', metadata: retryInfo(1) },
      { code: status.RESOURCE_EXHAUSTED, details: 'over quota' },
    ]);
    const { exporter, settings } = makeExporter({
      endpoint: server.endpoint,
      tls: { insecure: true },
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    await send(exporter, batch(1, 4));
    await waitFor(() => settings.telemetry.counts.failed === 4);
    expect(server.arrivals).toHaveLength(2);
    expect(server.arrivals[1]! - server.arrivals[0]!).toBeGreaterThanOrEqual(990);
  });

  it('does not retry INVALID_ARGUMENT', async () => {
    const server = await scriptedGrpc([{ code: status.INVALID_ARGUMENT, details: 'bad' }]);
    const { exporter, settings } = makeExporter({
      endpoint: server.endpoint,
      tls: { insecure: true },
      retry_on_failure: fastRetry,
    });
    await exporter.start();
    await send(exporter, batch(1, 3));
    await waitFor(() => settings.telemetry.counts.failed === 3);
    expect(server.arrivals).toHaveLength(1);
  });
});

describe('persistent queue through the exporter', () => {
  it('keeps batches across a restart of the exporter and delivers them in order to our receiver', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'inframeter-otlp-queue-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    // A receiver that we start later on a port known now.
    const receiverSettings = createTestSettings('otlp', 'receiver');
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) =>
      probe.close(() => {
        resolve();
      }),
    );
    const config = {
      endpoint: `127.0.0.1:${port}`,
      tls: { insecure: true },
      retry_on_failure: fastRetry,
      sending_queue: { storage: 'file', directory },
    };
    const first = makeExporter(config).exporter;
    await first.start();
    for (let id = 1; id <= 5; id += 1)
      expect((await send(first, batch(id))).code).toBe(ExportResultCode.SUCCESS);
    expect(first.status().queuedBatches).toBe(5);
    // The backend is still down: shutting down keeps the batches on disk (a crash is in test/otlp-e2e.test.ts).
    await first.shutdown();
    const received: ResourceMetrics[] = [];
    const receiver = new OtlpReceiver(
      receiverSettings,
      otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: `127.0.0.1:${port}` } } }),
    );
    const second = makeExporter(config).exporter;
    await receiver.start({
      export(b, cb) {
        received.push(b);
        cb({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    cleanups.push(() => receiver.shutdown());
    expect(formatHostPort(receiver.addresses().grpc!)).toBe(`127.0.0.1:${port}`);
    await second.start();
    await waitFor(() => received.length >= 5);
    await second.forceFlush();
    expect(received.map(firstValue)).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(second.status().queuedBatches).toBe(0);
  });
});
