import type { Attributes, Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import type { DeliveryOptions, SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import type { DecodeCaches } from '../../kit/otlp/decode.ts';
import { AttributeCache, decodeMetricsRequest } from '../../kit/otlp/decode.ts';
import { toError } from '../../kit/errors.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { InfluxdbExporterConfig } from './config.ts';
import { writeUrl } from './config.ts';
import { writeCsPulseSensorSchema } from './cs-pulse-sensor.ts';
import { LineBatch } from './line-protocol.ts';
import { writeOtelSchema } from './otel-schema.ts';
import { classifyWrite } from './response.ts';
import type { WriteClient } from './write-client.ts';
import { createWriteClient } from './write-client.ts';

/** Test seam: the transport (a real HTTP client by default). */
export interface InfluxdbExporterOptions extends DeliveryOptions {
  readonly client?: WriteClient;
}

/**
 * The `influxdb` exporter: batches written as line protocol to InfluxDB 1.x (`/write`) or
 * 2.x (`/api/v2/write`), through the shared delivery queue (service/delivery): queued,
 * retried on 429 and 5xx, optionally persisted. A batch the server refuses with another 4xx
 * is dropped, never retried, and counted by reason; the lines of a partial write that the
 * server refused are counted the same way while the rest stays written.
 */
export class InfluxdbExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: InfluxdbExporterConfig;
  readonly #delivery: Delivery;
  readonly #client: WriteClient;
  readonly #rejected: Counter;
  /** Queued batches are OTLP bytes: decoded straight from the wire, series' attributes shared. */
  readonly #decodeCaches: DecodeCaches = { attributes: new AttributeCache(), resources: new Map() };
  readonly #tagCache = new WeakMap<Attributes, string>();

  constructor(
    settings: ComponentSettings,
    config: InfluxdbExporterConfig,
    options: InfluxdbExporterOptions = {},
  ) {
    this.#settings = settings;
    this.#config = config;
    this.#client = options.client ?? createWriteClient(config, `inframeter/${readPackageVersion()}`);
    this.#rejected = settings.meter.createCounter('inframeter.influxdb.points.rejected', {
      unit: '{point}',
      description:
        'Data points InfluxDB refused (a 4xx answer or a partial write), by reason; never retried.',
      valueType: ValueType.INT,
    });
    this.#delivery = new Delivery(settings, config, (request) => this.#send(request), options);
  }

  /** Opens (and replays) the persistent queue. */
  async start(): Promise<void> {
    const url = new URL(this.#client.url);
    const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname);
    const credentials = this.#config.password !== undefined || this.#config.token !== undefined;
    if (url.protocol === 'http:' && credentials && !loopback) {
      this.#settings.logger.warn(
        { endpoint: url.origin },
        'sending InfluxDB credentials in plain text (http://) to a host that is not loopback',
      );
    }
    await this.#delivery.start();
  }

  /** The batches of a send: the one kept in memory without a queue, else decoded from the queued bytes. */
  #batchesOf(request: SendRequest): readonly ResourceMetrics[] {
    if (!this.#config.sending_queue.enabled) return [request.batch()];
    return decodeMetricsRequest(request.bytes, this.#decodeCaches).batches;
  }

  /** Encodes the batches of a send as line protocol in the configured schema. */
  #encode(request: SendRequest): LineBatch {
    const out = new LineBatch();
    const options = {
      precision: this.#config.precision,
      resourceAttributesAsTags: this.#config.resource_attributes_as_tags,
      tagCache: this.#tagCache,
    };
    for (const batch of this.#batchesOf(request)) {
      if (this.#config.schema === 'cs_pulse_sensor')
        writeCsPulseSensorSchema(batch, this.#config.precision, out);
      else writeOtelSchema(batch, options, out);
    }
    return out;
  }

  async #send(request: SendRequest): Promise<SendResult> {
    let lines: LineBatch;
    try {
      lines = this.#encode(request);
    } catch (error) {
      return {
        ok: false,
        error: new ExportFailure(`encoding line protocol failed: ${toError(error).message}`, {
          retryable: false,
          cause: error,
        }),
      };
    }
    if (lines.lines === 0) {
      this.#countSkipped(lines);
      return { ok: true };
    }
    const response = await this.#client.write(lines.text());
    if ('failure' in response) return { ok: false, error: response.failure };
    const outcome = classifyWrite(response.status, response.body, response.retryAfter);
    const attributes = { 'component.id': this.#settings.id };
    switch (outcome.kind) {
      case 'written':
        this.#countSkipped(lines);
        return { ok: true };
      case 'retry':
        return { ok: false, error: outcome.failure };
      case 'partial': {
        this.#countSkipped(lines);
        // InfluxDB counts lines; a line of the otel schema is one point, a line of the
        // cs_pulse_sensor schema several: the points refused are estimated in proportion.
        const rejected = Math.min(
          request.points,
          Math.round((outcome.droppedLines * lines.points) / Math.max(1, lines.lines)),
        );
        this.#rejected.add(rejected, { ...attributes, reason: outcome.reason });
        return { ok: true, rejected, message: outcome.message };
      }
      case 'rejected':
        this.#rejected.add(request.points, { ...attributes, reason: outcome.reason });
        return {
          ok: false,
          error: new ExportFailure(`${outcome.message} (batch of ${request.points} points dropped)`, {
            retryable: false,
          }),
        };
    }
  }

  /** Points the schema left out, counted once the batch is through. */
  #countSkipped(lines: LineBatch): void {
    for (const [reason, points] of lines.skipped) this.#settings.telemetry.dropped(points, reason);
  }

  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.#delivery.export(batch, resultCallback);
  }

  /** What the queue holds now (for tests and diagnostics). */
  status(): ReturnType<Delivery['status']> {
    return this.#delivery.status();
  }

  async forceFlush(): Promise<void> {
    await this.#delivery.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#delivery.shutdown();
    this.#client.close();
  }

  describe(): string {
    const url = writeUrl(this.#config);
    const queue = this.#config.sending_queue;
    const storage = queue.enabled
      ? queue.storage === 'file'
        ? `, queue in ${queue.directory ?? ''}`
        : ', memory queue'
      : '';
    return `InfluxDB ${this.#config.api_version === 1 ? '1.x' : '2.x'} ${url.origin}${url.pathname} (${this.#config.schema} schema)${storage}`;
  }
}
