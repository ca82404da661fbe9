import { createRequire } from 'node:module';
import type { Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type * as OtlpTransformer from '@opentelemetry/otlp-transformer';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ComponentSettings, LogSink } from '../../kit/component.ts';
import type { SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { DEFAULT_MAX_ELAPSED_MS } from '../../kit/delivery/delivery.ts';
import { backoffDelay, ExportFailure } from '../../kit/delivery/retry.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { OtlpClient } from './client.ts';
import { readTlsMaterial } from './client.ts';
import type { OtlpExporterConfig, ResolvedEndpoint } from './config.ts';
import { METRICS_PATH, resolveEndpoint } from './config.ts';
import { createGrpcClient } from './grpc-client.ts';
import { createHttpClient } from './http-client.ts';

const require = createRequire(import.meta.url);
let transformer: typeof OtlpTransformer | undefined;

/** The SDK's OTLP logs encoder, loaded on the first export (a collector without logs never needs it). */
function logsSerializer(): typeof OtlpTransformer.ProtobufLogsSerializer {
  transformer ??= require('@opentelemetry/otlp-transformer') as typeof OtlpTransformer;
  return transformer.ProtobufLogsSerializer;
}

/** The OTLP/gRPC method of the logs service. */
export const LOGS_EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** Default path of the logs endpoint of OTLP/HTTP. */
export const LOGS_PATH = '/v1/logs';

/**
 * The URL of the logs endpoint for an OTLP/HTTP metrics URL: its `/v1/metrics` ending becomes
 * `/v1/logs`; a custom path without that ending gets `/v1/logs` appended.
 */
export function toLogsTarget(endpoint: ResolvedEndpoint): ResolvedEndpoint {
  const url = new URL(endpoint.target);
  url.pathname = url.pathname.endsWith(METRICS_PATH)
    ? `${url.pathname.slice(0, -METRICS_PATH.length)}${LOGS_PATH}`
    : `${url.pathname.replace(/\/$/, '')}${LOGS_PATH}`;
  return { ...endpoint, target: url.toString() };
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly records: number;
  /** Resolves the export call that waits for the send (sending_queue disabled). */
  readonly settle?: (result: ExportResult) => void;
}

/** Test seams. */
export interface LogsDeliveryOptions {
  readonly random?: () => number;
  /** Longest wait of `forceFlush` (default 10 s). */
  readonly flushTimeoutMs?: number;
}

/**
 * The logs half of the `otlp` exporter: log records encoded once as an OTLP
 * `ExportLogsServiceRequest` (with the OpenTelemetry JS serializer), sent over the same
 * transports as metrics (gRPC `LogsService/Export`, or `POST /v1/logs`) with the exporter's
 * TLS, headers, compression and timeout, and retried with the exporter's `retry_on_failure`.
 *
 * The queue is in memory only, bounded by `sending_queue.queue_size` (log records) and
 * `max_bytes` (the oldest request is dropped beyond either), sent by one consumer in order.
 * With `sending_queue.enabled: false` an export waits for its send. Records dropped (queue
 * full, left at shutdown, failed for good) are counted in
 * `inframeter.exporter.log_records.dropped` by reason and logged once per distinct error.
 */
export class OtlpLogsExporter implements LogSink {
  readonly #settings: ComponentSettings;
  readonly #config: OtlpExporterConfig;
  readonly #random: () => number;
  readonly #flushTimeoutMs: number;
  readonly #errors: ErrorLog;
  readonly #dropped: Counter;
  readonly #sent: Counter;
  readonly #queue: Pending[] = [];
  #queuedRecords = 0;
  #queuedBytes = 0;
  #client: OtlpClient | undefined;
  /** Whether the head of the queue is being sent. */
  #inFlight = false;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #stop = new AbortController();
  #idle: (() => void)[] = [];

  constructor(settings: ComponentSettings, config: OtlpExporterConfig, options: LogsDeliveryOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#random = options.random ?? Math.random;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this.#errors = new ErrorLog(settings.logger);
    this.#dropped = settings.meter.createCounter('inframeter.exporter.log_records.dropped', {
      unit: '{log_record}',
      description: 'Log records the exporter dropped, by reason (queue_full, shutdown, send_failed).',
      valueType: ValueType.INT,
    });
    this.#sent = settings.meter.createCounter('inframeter.exporter.log_records.sent', {
      unit: '{log_record}',
      description: 'Log records the backend acknowledged.',
      valueType: ValueType.INT,
    });
  }

  /** The transport, created on the first send (an exporter used only for metrics opens none). */
  #transport(): OtlpClient {
    if (this.#client !== undefined) return this.#client;
    const endpoint = resolveEndpoint(this.#config);
    const tls = endpoint.secure ? readTlsMaterial(this.#config.tls) : {};
    const userAgent = `inframeter/${readPackageVersion()}`;
    this.#client =
      this.#config.protocol === 'grpc'
        ? createGrpcClient({ config: this.#config, endpoint, tls, userAgent, grpcMethod: LOGS_EXPORT_PATH })
        : createHttpClient({ config: this.#config, endpoint: toLogsTarget(endpoint), tls, userAgent });
    return this.#client;
  }

  #drop(records: number, reason: string): void {
    if (records > 0) this.#dropped.add(records, { 'component.id': this.#settings.id, reason });
  }

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('the exporter is shut down') });
      return;
    }
    if (logs.length === 0) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = logsSerializer().serializeRequest(logs);
    } catch (error) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      return;
    }
    if (bytes === undefined) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('log records could not be encoded') });
      return;
    }
    const queue = this.#config.sending_queue;
    if (queue.enabled) {
      this.#enqueue({ bytes, records: logs.length });
      resultCallback({ code: ExportResultCode.SUCCESS });
    } else {
      this.#enqueue({ bytes, records: logs.length, settle: resultCallback });
    }
    this.#kick();
  }

  /** Starts the consumer unless it runs. */
  #kick(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#consume().finally(() => {
      this.#running = undefined;
      // An export that came while the consumer was finishing found it still running.
      if (this.#queue.length > 0 && !this.#stopped) {
        this.#kick();
        return;
      }
      const waiters = this.#idle;
      this.#idle = [];
      for (const wake of waiters) wake();
    });
  }

  #enqueue(entry: Pending): void {
    const { queue_size: maxRecords, max_bytes: maxBytes } = this.#config.sending_queue;
    this.#queue.push(entry);
    this.#queuedRecords += entry.records;
    this.#queuedBytes += entry.bytes.length;
    // The entry being sent stays at the head until its send ends; never drop it.
    while (this.#queue.length > 1 && (this.#queuedRecords > maxRecords || this.#queuedBytes > maxBytes)) {
      const oldest = this.#queue.splice(this.#inFlight ? 1 : 0, 1)[0];
      if (oldest === undefined) break;
      this.#take(oldest);
      this.#drop(oldest.records, 'queue_full');
      this.#errors.report(
        'queue_full',
        new Error('the logs sending queue is full: the oldest log records were dropped'),
      );
      oldest.settle?.({
        code: ExportResultCode.FAILED,
        error: new Error('dropped: the sending queue is full'),
      });
    }
  }

  #take(entry: Pending): void {
    this.#queuedRecords -= entry.records;
    this.#queuedBytes -= entry.bytes.length;
  }

  async #consume(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const entry = this.#queue[0];
      if (entry === undefined) break;
      this.#inFlight = true;
      const result = await this.#deliver(entry);
      this.#inFlight = false;
      if (this.#queue[0] === entry) this.#queue.shift();
      this.#take(entry);
      if (result.code === ExportResultCode.SUCCESS) {
        this.#sent.add(entry.records, { 'component.id': this.#settings.id });
        this.#errors.recovered('send');
      } else {
        // The send may have been cut short by shutdown while it waited to retry.
        const stopping = this.#stopped;
        this.#drop(entry.records, stopping ? 'shutdown' : 'send_failed');
        if (!stopping) this.#errors.report('send', result.error);
      }
      entry.settle?.(result);
    }
  }

  /** Sends one request, retrying retryable failures with backoff until max_elapsed_time. */
  async #deliver(entry: Pending): Promise<ExportResult> {
    const retry = this.#config.retry_on_failure;
    const started = performance.now();
    const request: SendRequest = {
      bytes: entry.bytes,
      points: entry.records,
      batch: () => {
        throw new Error('a logs request has no metrics batch');
      },
    };
    for (let attempt = 0; ; attempt += 1) {
      let result: SendResult;
      try {
        result = await this.#transport().send(request);
      } catch (error) {
        // Reading the TLS files failed: not retryable.
        return {
          code: ExportResultCode.FAILED,
          error: error instanceof Error ? error : new Error(String(error)),
        };
      }
      if (result.ok) {
        if (result.rejected !== undefined && result.rejected > 0) {
          this.#drop(result.rejected, 'rejected');
          this.#errors.report(
            'partial_success',
            new Error(`the backend rejected ${result.rejected} log records: ${result.message ?? ''}`),
          );
        }
        return { code: ExportResultCode.SUCCESS };
      }
      const failure: ExportFailure = result.error;
      if (!retry.enabled || !failure.retryable || this.#stop.signal.aborted)
        return { code: ExportResultCode.FAILED, error: failure };
      const delay = failure.retryAfterMs ?? backoffDelay(retry, attempt, this.#random);
      const elapsed = performance.now() - started;
      // Log records are held in memory only: the memory queue's default deadline applies.
      const maxElapsed = retry.max_elapsed_time ?? DEFAULT_MAX_ELAPSED_MS;
      if (maxElapsed > 0 && elapsed + delay > maxElapsed)
        return {
          code: ExportResultCode.FAILED,
          error: new ExportFailure(`retries exhausted after ${Math.round(elapsed)} ms: ${failure.message}`, {
            retryable: false,
            cause: failure,
          }),
        };
      this.#errors.report('send', failure);
      const aborted = await this.#sleep(delay);
      if (aborted) return { code: ExportResultCode.FAILED, error: failure };
    }
  }

  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal;
      if (signal.aborted) {
        resolve(true);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(false);
      }, ms);
      timer.unref();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Log records waiting to be sent (the one being sent included). */
  queuedRecords(): number {
    return this.#queuedRecords;
  }

  /** Waits until the queue is empty, at most the flush timeout. */
  async forceFlush(): Promise<void> {
    if (this.#running === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#flushTimeoutMs);
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops sending; what is still queued is dropped and counted (`shutdown`). */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stop.abort();
    await this.#running;
    for (const entry of this.#queue.splice(0)) {
      this.#take(entry);
      this.#drop(entry.records, 'shutdown');
      entry.settle?.({ code: ExportResultCode.FAILED, error: new Error('the exporter shut down') });
    }
    this.#client?.close();
  }
}
