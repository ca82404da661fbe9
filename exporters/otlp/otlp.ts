import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ErrorLog } from '../../kit/error-log.ts';
import { keepWellFormedPoints } from '../../kit/malformed-points.ts';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import type { DeliveryOptions, SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { toError } from '../../kit/errors.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { OtlpClient } from './client.ts';
import { readTlsMaterial } from './client.ts';
import type { OtlpExporterConfig } from './config.ts';
import { isLoopback, resolveEndpoint } from './config.ts';
import { CumulativeToDelta } from './delta.ts';
import { createGrpcClient } from './grpc-client.ts';
import { createHttpClient } from './http-client.ts';
import { OtlpLogsExporter } from './logs.ts';

/**
 * Most bytes of queued batches sent in one request: well under the 4 MiB a gRPC server
 * accepts by default (and our own receiver's limit).
 */
export const COALESCE_BYTES = 2 * 1024 * 1024;

/**
 * The `otlp` exporter: OTLP over gRPC or HTTP (protobuf) to a collector or a backend, through
 * the shared delivery queue (service/delivery): queued, retried, optionally persisted.
 */
export class OtlpExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: OtlpExporterConfig;
  readonly #delivery: Delivery;
  readonly #delta: CumulativeToDelta | undefined;
  readonly #errors: ErrorLog;
  #client: OtlpClient | undefined;
  #starting: Promise<void> | undefined;
  /** The logs signal (logs pipelines): its own in-memory queue, same transport settings. */
  readonly logs: OtlpLogsExporter;

  constructor(settings: ComponentSettings, config: OtlpExporterConfig, options: DeliveryOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#errors = new ErrorLog(settings.logger);
    this.#delta = config.temporality === 'delta' ? new CumulativeToDelta() : undefined;
    // A backlog (after an outage) goes out several batches per request: it drains many
    // times faster than it is produced, in order, with one request in flight.
    this.#delivery = new Delivery(settings, config, (request) => this.#send(request), {
      coalesceBytes: COALESCE_BYTES,
      ...options,
    });
    this.logs = new OtlpLogsExporter(settings, config);
  }

  /** Reads the TLS files, creates the connection and opens (and replays) the persistent queue. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const endpoint = resolveEndpoint(this.#config);
    const options = {
      config: this.#config,
      endpoint,
      tls: endpoint.secure ? readTlsMaterial(this.#config.tls) : {},
      userAgent: `inframeter/${readPackageVersion()}`,
    };
    this.#client = this.#config.protocol === 'grpc' ? createGrpcClient(options) : createHttpClient(options);
    if (!endpoint.secure && !isLoopback(endpoint.host)) {
      this.#settings.logger.warn(
        { endpoint: endpoint.target },
        'sending OTLP in plain text (tls.insecure) to a host that is not loopback',
      );
    }
    await this.#delivery.start();
  }

  #send(request: SendRequest): Promise<SendResult> {
    const client = this.#client;
    if (client === undefined) {
      // Batches replayed before start finished wait for the connection.
      return this.start().then(() => this.#send(request));
    }
    return client.send(request);
  }

  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let outgoing = keepWellFormedPoints(batch, { telemetry: this.#settings.telemetry, errors: this.#errors });
    if (this.#delta !== undefined) {
      try {
        const { batch: converted, report } = this.#delta.convert(outgoing);
        if (report.initial > 0) this.#settings.telemetry.dropped(report.initial, 'delta_initial_point');
        outgoing = converted;
      } catch (error) {
        resultCallback({ code: ExportResultCode.FAILED, error: toError(error) });
        return;
      }
    }
    this.#delivery.export(outgoing, resultCallback);
  }

  /** What the queue holds now (for tests and diagnostics). */
  status(): ReturnType<Delivery['status']> {
    return this.#delivery.status();
  }

  async forceFlush(): Promise<void> {
    await Promise.all([this.#delivery.forceFlush(), this.logs.forceFlush()]);
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.#delivery.shutdown(), this.logs.shutdown()]);
    this.#client?.close();
  }

  describe(): string {
    const endpoint = resolveEndpoint(this.#config);
    const queue = this.#config.sending_queue;
    const storage = queue.enabled
      ? queue.storage === 'file'
        ? `, queue in ${queue.directory ?? ''}`
        : ', memory queue'
      : '';
    return `OTLP/${this.#config.protocol === 'grpc' ? 'gRPC' : 'HTTP'} ${endpoint.target}${storage}`;
  }
}
