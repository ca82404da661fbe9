import type { ComponentSettings, MetricSink, Receiver } from '../../kit/component.ts';
import type { HostPort } from '../../kit/config-types.ts';
import { createBearerCheck } from './auth.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { GrpcServer } from './grpc-server.ts';
import { HttpServer } from './http-server.ts';
import { Ingest } from './ingest.ts';

/** The addresses the receiver listens on, once started. */
export interface OtlpAddresses {
  readonly grpc?: HostPort | undefined;
  readonly http?: HostPort | undefined;
}

/**
 * The `otlp` receiver, a stream receiver: OTLP export requests (gRPC and HTTP) become SDK
 * batches, one per OTLP ResourceMetrics, pushed into the pipeline with their own timestamps.
 * A request is answered once the pipeline accepted (or refused) its batches.
 */
export class OtlpReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: OtlpReceiverConfig;
  readonly #ingest: Ingest;
  #grpc: GrpcServer | undefined;
  #http: HttpServer | undefined;
  #state: 'created' | 'started' | 'stopped' = 'created';

  constructor(settings: ComponentSettings, config: OtlpReceiverConfig) {
    this.#settings = settings;
    this.#config = config;
    this.#ingest = new Ingest(settings);
  }

  async start(next: MetricSink): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'started';
    this.#ingest.attach(next);
    const checkToken = createBearerCheck(this.#config.auth?.bearer_token);
    const { grpc, http } = this.#config.protocols;
    try {
      if (grpc !== undefined) {
        this.#grpc = new GrpcServer(grpc, this.#ingest, checkToken);
        await this.#grpc.listen();
      }
      if (http !== undefined) {
        this.#http = new HttpServer(http, this.#ingest, checkToken);
        await this.#http.listen();
      }
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    this.#settings.logger.info(this.addresses(), 'OTLP receiver listening');
  }

  /** Bound addresses (with the real port when port 0 was configured). */
  addresses(): OtlpAddresses {
    return { grpc: this.#grpc?.address, http: this.#http?.address };
  }

  async shutdown(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await Promise.all([this.#grpc?.close(), this.#http?.close()]);
    await this.#ingest.drain();
  }
}
