import type { Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ComponentSettings, MetricSink } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { toError } from '../../kit/errors.ts';
import type { DecodeCaches, DecodedRequest } from '../../kit/otlp/decode.ts';
import { AttributeCache, decodeMetricsRequest, decodeMetricsRequestJson } from '../../kit/otlp/decode.ts';
import { otlpTypes } from '../../kit/otlp/proto.ts';

/** The transports a request arrives on. */
export type Transport = 'grpc' | 'http';

/**
 * How a request ended. `ok` includes partial success (some points rejected as invalid);
 * the others refuse the whole request.
 */
export type Outcome =
  'ok' | 'invalid' | 'too_large' | 'unsupported_media_type' | 'unauthenticated' | 'unavailable' | 'refused';

/** The answer to one request. */
export type IngestResult =
  { outcome: 'ok'; rejected: number; message: string } | { outcome: Exclude<Outcome, 'ok'>; message: string };

/**
 * The transport-independent half of the receiver: turns a decoded request into SDK batches,
 * pushes them into the pipeline, counts and logs. Shared by the gRPC and HTTP servers.
 */
export class Ingest {
  readonly #settings: ComponentSettings;
  readonly #errors: ErrorLog;
  readonly #requests: Counter;
  #next: MetricSink | undefined;
  readonly #inFlight = new Set<Promise<IngestResult>>();
  /** Kept between requests: agents send the same series and resources in every export. */
  readonly #caches: DecodeCaches = { attributes: new AttributeCache(), resources: new Map() };

  constructor(settings: ComponentSettings) {
    this.#settings = settings;
    this.#errors = new ErrorLog(settings.logger);
    this.#requests = settings.meter.createCounter('inframeter.receiver.otlp.requests', {
      unit: '{request}',
      description: 'OTLP export requests received, by transport and outcome.',
      valueType: ValueType.INT,
    });
  }

  /** Sets the pipeline head; requests before it are answered UNAVAILABLE. */
  attach(next: MetricSink): void {
    this.#next = next;
  }

  /** Counts and logs a request refused before its content was read (size, type, token, framing). */
  refuse(transport: Transport, outcome: Exclude<Outcome, 'ok'>, message: string): IngestResult {
    this.#requests.add(1, { 'component.id': this.#settings.id, transport, outcome });
    this.#errors.report(`${transport} ${outcome}`, new Error(message));
    return { outcome, message };
  }

  /** Decodes protobuf request bytes into SDK batches; throws an `OtlpDecodeError` on malformed input. */
  decode(bytes: Uint8Array): DecodedRequest {
    return decodeMetricsRequest(bytes, this.#caches);
  }

  /** Decodes an OTLP/JSON request into SDK batches; throws an `OtlpDecodeError` on malformed input. */
  decodeJson(text: string): DecodedRequest {
    return decodeMetricsRequestJson(text, this.#caches);
  }

  /** Pushes a decoded request into the pipeline. Never rejects. */
  ingest(transport: Transport, decoded: DecodedRequest): Promise<IngestResult> {
    const work = this.#ingest(transport, decoded);
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
    return work;
  }

  async #ingest(transport: Transport, decoded: DecodedRequest): Promise<IngestResult> {
    const telemetry = this.#settings.telemetry;
    if (decoded.rejected > 0) {
      telemetry.dropped(decoded.rejected, 'invalid');
      this.#errors.report(
        `${transport} rejected points`,
        new Error(`rejected invalid points: ${decoded.errors.join('; ')}`),
      );
    }
    if (decoded.noRecordedValue > 0) telemetry.dropped(decoded.noRecordedValue, 'no_recorded_value');
    telemetry.received(decoded.points);
    const next = this.#next;
    if (next === undefined) return this.refuse(transport, 'unavailable', 'the receiver is not started');
    const results = await Promise.all(
      decoded.batches.map(
        (batch) =>
          new Promise<Error | undefined>((resolve) => {
            try {
              next.export(batch, (result) => {
                resolve(
                  result.code === ExportResultCode.SUCCESS
                    ? undefined
                    : (result.error ?? new Error('export failed')),
                );
              });
            } catch (error) {
              resolve(toError(error));
            }
          }),
      ),
    );
    const failure = results.find((r) => r !== undefined);
    if (failure !== undefined) {
      telemetry.failed(decoded.points);
      this.#errors.report('pipeline', failure);
      return this.refuse(transport, 'unavailable', `the pipeline refused the data: ${failure.message}`);
    }
    this.#errors.recovered('pipeline');
    telemetry.exported(decoded.points);
    this.#requests.add(1, { 'component.id': this.#settings.id, transport, outcome: 'ok' });
    return { outcome: 'ok', rejected: decoded.rejected, message: decoded.errors.join('; ') };
  }

  /** Waits for requests being pushed into the pipeline. */
  async drain(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}

/** An `ExportMetricsServiceResponse`, with partial success when points were rejected. */
export function encodeResponse(result: { rejected: number; message: string }): Uint8Array {
  const response =
    result.rejected > 0 || result.message !== ''
      ? { partialSuccess: { rejectedDataPoints: result.rejected, errorMessage: result.message } }
      : {};
  return otlpTypes.ExportMetricsServiceResponse.encode(response).finish();
}

/** The same response in OTLP/JSON. */
export function responseJson(result: { rejected: number; message: string }): string {
  return result.rejected > 0 || result.message !== ''
    ? JSON.stringify({
        partialSuccess: { rejectedDataPoints: String(result.rejected), errorMessage: result.message },
      })
    : '{}';
}
