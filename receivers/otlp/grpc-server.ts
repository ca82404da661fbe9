import { readFileSync } from 'node:fs';
import type {
  sendUnaryData,
  Server,
  ServerInterceptor,
  ServerUnaryCall,
  status,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { HostPort } from '../../kit/config-types.ts';
import { formatHostPort } from '../../kit/config-types.ts';
import { grpc } from '../../kit/otlp/grpc.ts';
import { METRICS_EXPORT_PATH } from '../../kit/otlp/proto.ts';
import type { OtlpReceiverConfig } from './config.ts';
import type { Ingest, IngestResult } from './ingest.ts';
import { encodeResponse } from './ingest.ts';

type GrpcConfig = NonNullable<OtlpReceiverConfig['protocols']['grpc']>;

/** The gRPC status of each refusal. */
function statusOf(outcome: Exclude<IngestResult['outcome'], 'ok'>): status {
  const { status } = grpc();
  const codes: Record<Exclude<IngestResult['outcome'], 'ok'>, status> = {
    invalid: status.INVALID_ARGUMENT,
    too_large: status.RESOURCE_EXHAUSTED,
    unsupported_media_type: status.INVALID_ARGUMENT,
    unauthenticated: status.UNAUTHENTICATED,
    unavailable: status.UNAVAILABLE,
    refused: status.CANCELLED,
  };
  return codes[outcome];
}

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * Counts the calls that end without our handler answering: a message larger than
 * `max_recv_msg_size` (gRPC answers RESOURCE_EXHAUSTED from the length prefix, before
 * reading the message), broken framing, or a client that cancelled.
 */
function refusalCounter(ingest: Ingest): ServerInterceptor {
  const { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder } = grpc();
  return (_method, call) => {
    let answered = false;
    const responder = new ResponderBuilder()
      .withStart((next) => {
        next(
          new ServerListenerBuilder()
            .withOnCancel(() => {
              if (!answered)
                ingest.refuse(
                  'grpc',
                  'refused',
                  'call ended by the gRPC layer (message over max_recv_msg_size, bad framing, or cancelled by the client)',
                );
            })
            .build(),
        );
      })
      .withSendStatus((callStatus, next) => {
        answered = true;
        next(callStatus);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}

/** The OTLP/gRPC server: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`. */
export class GrpcServer {
  readonly #server: Server;
  readonly #config: GrpcConfig;
  #address: HostPort | undefined;

  constructor(
    config: GrpcConfig,
    ingest: Ingest,
    checkToken: (authorization: string | undefined) => boolean,
  ) {
    this.#config = config;
    this.#server = new (grpc().Server)({
      'grpc.max_receive_message_length': config.max_recv_msg_size,
      interceptors: [refusalCounter(ingest)],
    });
    const handler = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      const answer = (result: IngestResult): void => {
        if (result.outcome === 'ok') callback(null, Buffer.from(encodeResponse(result)));
        else callback({ code: statusOf(result.outcome), details: result.message });
      };
      const authorization = call.metadata.get('authorization')[0];
      if (!checkToken(typeof authorization === 'string' ? authorization : undefined)) {
        answer(ingest.refuse('grpc', 'unauthenticated', 'missing or invalid bearer token'));
        return;
      }
      let decoded;
      try {
        decoded = ingest.decode(call.request);
      } catch (error) {
        answer(
          ingest.refuse(
            'grpc',
            'invalid',
            `malformed ExportMetricsServiceRequest: ${(error as Error).message}`,
          ),
        );
        return;
      }
      void ingest.ingest('grpc', decoded).then(answer);
    };
    const implementation: UntypedServiceImplementation = { Export: handler };
    this.#server.addService(
      {
        Export: {
          path: METRICS_EXPORT_PATH,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
          originalName: 'export',
        },
      },
      implementation,
    );
  }

  /** Binds and starts serving; resolves with the bound address (the real port when 0 was asked). */
  listen(): Promise<HostPort> {
    const tls = this.#config.tls;
    const { ServerCredentials } = grpc();
    const credentials =
      tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            tls.client_ca_file === undefined ? null : readFileSync(tls.client_ca_file),
            [{ cert_chain: readFileSync(tls.cert_file), private_key: readFileSync(tls.key_file) }],
            tls.client_ca_file !== undefined,
          );
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(formatHostPort(this.#config.endpoint), credentials, (error, port) => {
        if (error) {
          reject(
            new Error(`cannot listen on ${formatHostPort(this.#config.endpoint)} (gRPC): ${error.message}`, {
              cause: error,
            }),
          );
          return;
        }
        this.#address = { host: this.#config.endpoint.host, port };
        resolve(this.#address);
      });
    });
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  /** Stops accepting calls and lets those in progress finish, then forces the rest after `graceMs`. */
  close(graceMs = 5_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
