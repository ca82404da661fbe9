import type { Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import type { DeliveryOptions, SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import type { DecodeCaches } from '../../kit/otlp/decode.ts';
import { AttributeCache, decodeMetricsRequest } from '../../kit/otlp/decode.ts';
import { toError } from '../../kit/errors.ts';
import { readPackageVersion } from '../../kit/version.ts';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
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
 *
 * A batch is written as line protocol when it is exported, and the queue keeps that text:
 * a send posts the stored lines (gzipped when configured), and a backlog goes out several
 * batches per request, their lines one after the other. Entries queued on disk by earlier
 * versions, which kept OTLP, are still read: converted when sent (see {@link splitLegacy}).
 */
export class InfluxdbExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: InfluxdbExporterConfig;
  readonly #delivery: Delivery;
  readonly #client: WriteClient;
  readonly #rejected: Counter;
  /** OTLP entries of a disk queue written by an earlier version: decoded, series' attributes shared. */
  readonly #decodeCaches: DecodeCaches = { attributes: new AttributeCache(), resources: new Map() };

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
    // A backlog (after an outage) goes out several batches per request: it drains many times
    // faster than it is produced, in order, with one request in flight.
    this.#delivery = new Delivery(settings, config, (request) => this.#send(request), {
      coalesceBytes: COALESCE_BYTES,
      ...options,
    });
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

  /** Writes batches as line protocol in the configured schema. */
  #encode(batches: readonly ResourceMetrics[]): LineBatch {
    const out = new LineBatch();
    const options = {
      precision: this.#config.precision,
      resourceAttributesAsTags: this.#config.resource_attributes_as_tags,
    };
    for (const batch of batches) {
      if (this.#config.schema === 'cs_pulse_sensor')
        writeCsPulseSensorSchema(batch, this.#config.precision, out);
      else writeOtelSchema(batch, options, out);
    }
    return out;
  }

  async #send(request: SendRequest): Promise<SendResult> {
    const stored = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
    const [legacy, current] = splitLegacy(stored);
    let text = current;
    if (legacy.length > 0) {
      // Queued by an earlier version, which kept OTLP: converted now.
      try {
        const lines = this.#encode(decodeMetricsRequest(legacy, this.#decodeCaches).batches);
        this.#countSkipped(lines);
        text = Buffer.concat([bodyOf(lines), current]);
      } catch (error) {
        return {
          ok: false,
          error: new ExportFailure(`encoding line protocol failed: ${toError(error).message}`, {
            retryable: false,
            cause: error,
          }),
        };
      }
      if (text.length === 0) return { ok: true };
    }
    const gzipped = this.#config.compression === 'gzip';
    const response = await this.#client.write(
      gzipped ? await gzipAsync(text, { level: GZIP_LEVEL }) : text,
      gzipped,
    );
    if ('failure' in response) return { ok: false, error: response.failure };
    const outcome = classifyWrite(response.status, response.body, response.retryAfter);
    const attributes = { 'component.id': this.#settings.id };
    switch (outcome.kind) {
      case 'written':
        return { ok: true };
      case 'retry':
        return { ok: false, error: outcome.failure };
      case 'partial': {
        // InfluxDB counts lines; a line of the otel schema is one point, a line of the
        // cs_pulse_sensor schema several: the points refused are estimated in proportion.
        const rejected = Math.min(
          request.points,
          Math.round((outcome.droppedLines * request.points) / Math.max(1, lineCount(text))),
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

  /** Points the schema left out (counted when the lines are written, before they are queued). */
  #countSkipped(lines: LineBatch): void {
    for (const [reason, points] of lines.skipped) this.#settings.telemetry.dropped(points, reason);
  }

  /**
   * Writes the batch as line protocol and queues the request body (or sends it, without a
   * queue). Points the schema leaves out are counted dropped at once.
   */
  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let lines: LineBatch;
    try {
      lines = this.#encode([batch]);
    } catch (error) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new Error(`encoding line protocol failed: ${toError(error).message}`, { cause: error }),
      });
      return;
    }
    this.#countSkipped(lines);
    if (lines.lines === 0) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.#delivery.exportEncoded(bodyOf(lines), lines.points, resultCallback);
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

const gzipAsync = promisify(gzip);

/**
 * gzip's fastest level (1) rather than its default (6): line protocol is repetitive text,
 * and level 1 costs about a third of level 6's CPU for a body about a third larger
 * (bench/influxdb.bench.ts and the README's figures).
 */
const GZIP_LEVEL = 1;

/**
 * Most bytes of queued lines sent in one request when a backlog waits: about 14,000 lines
 * of 75 bytes, far below InfluxDB 1.x's default `max-body-size` (25 MB).
 */
export const COALESCE_BYTES = 1024 * 1024;

/**
 * A queued request's OTLP part and its line protocol part. Earlier versions queued OTLP
 * `ExportMetricsServiceRequest`s, whose top-level fields are all `resource_metrics` (field
 * 1, length-delimited: a 0x0a tag, then a varint length); line protocol never starts with a
 * newline (0x0a). A request coalesced from the queue holds old entries first, then new ones.
 */
export function splitLegacy(body: Buffer): [legacy: Buffer, lines: Buffer] {
  let i = 0;
  while (i < body.length && body[i] === 0x0a) {
    let length = 0;
    let shift = 0;
    let j = i + 1;
    for (; j < body.length; j += 1) {
      const byte = body[j] ?? 0;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) break;
    }
    const end = j + 1 + length;
    if (end > body.length) break;
    i = end;
  }
  return [body.subarray(0, i), body.subarray(i)];
}

/** The lines as queued: each ends with a newline, so that queued bodies can be sent one after the other. */
const bodyOf = (lines: LineBatch): Buffer =>
  Buffer.from(lines.lines === 0 ? '' : `${lines.text()}\n`, 'utf8');

/** Lines in a request body (read only for a partial write's accounting). */
function lineCount(text: Buffer): number {
  let lines = 0;
  for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) lines += 1;
  return lines;
}
