import type { ServiceError } from '@grpc/grpc-js';
import type { SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { grpc } from '../../kit/otlp/grpc.ts';
import { METRICS_EXPORT_PATH, otlpTypes, RETRY_INFO_TYPE_URL } from '../../kit/otlp/proto.ts';
import type { RpcStatus } from '../../kit/otlp/proto.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import type { ClientOptions, OtlpClient } from './client.ts';
import { toSendResult } from './client.ts';

/**
 * Codes after which the OTLP/gRPC specification allows a retry. RESOURCE_EXHAUSTED is
 * retried only when the server sends RetryInfo (it says recovery is possible).
 */
function isRetryable(code: number): boolean {
  const { status } = grpc();
  return new Set<number>([
    status.CANCELLED,
    status.DEADLINE_EXCEEDED,
    status.ABORTED,
    status.OUT_OF_RANGE,
    status.UNAVAILABLE,
    status.DATA_LOSS,
  ]).has(code);
}

/** Longest wait of the channel's reconnection backoff. */
const RECONNECT_CAP_MS = 5_000;

/** The delay of a `google.rpc.RetryInfo` in the error's `grpc-status-details-bin`, in ms. */
export function retryDelayOf(error: ServiceError): number | undefined {
  const details = error.metadata.get('grpc-status-details-bin')[0];
  if (!(details instanceof Buffer)) return undefined;
  try {
    const rpcStatus = otlpTypes.Status.decode(details) as unknown as RpcStatus;
    for (const detail of rpcStatus.details) {
      if (detail.typeUrl !== RETRY_INFO_TYPE_URL) continue;
      const info = otlpTypes.RetryInfo.decode(detail.value) as unknown as {
        retryDelay?: { seconds: unknown; nanos: number } | null;
      };
      if (info.retryDelay === null || info.retryDelay === undefined) return 0;
      return Number(info.retryDelay.seconds) * 1000 + info.retryDelay.nanos / 1e6;
    }
  } catch {
    // Undecodable details: no retry information.
  }
  return undefined;
}

/** A gRPC error → an ExportFailure classified by the OTLP rules. */
export function grpcFailure(error: ServiceError): ExportFailure {
  const { status } = grpc();
  // An unknown code has no name in the enum.
  const name = (status as unknown as Record<number, string | undefined>)[error.code] ?? String(error.code);
  const message = `gRPC ${name}: ${error.details}`;
  if (error.code === status.RESOURCE_EXHAUSTED) {
    const delay = retryDelayOf(error);
    return new ExportFailure(message, { retryable: delay !== undefined, retryAfterMs: delay, cause: error });
  }
  return new ExportFailure(message, {
    retryable: isRetryable(error.code),
    retryAfterMs: retryDelayOf(error),
    cause: error,
  });
}

/** OTLP over gRPC (`opentelemetry.proto.collector.metrics.v1.MetricsService/Export`) with @grpc/grpc-js. */
export function createGrpcClient(options: ClientOptions): OtlpClient {
  const { ChannelCredentials, Client, compressionAlgorithms, Metadata } = grpc();
  const { config, endpoint, tls } = options;
  const credentials = endpoint.secure
    ? ChannelCredentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, {
        rejectUnauthorized: !config.tls.insecure_skip_verify,
      })
    : ChannelCredentials.createInsecure();
  const channelOptions: Record<string, string | number> = {
    'grpc.primary_user_agent': options.userAgent,
    'grpc.max_send_message_length': -1,
    'grpc.default_compression_algorithm':
      config.compression === 'gzip' ? compressionAlgorithms.gzip : compressionAlgorithms.identity,
    // A backend that comes back is reached within seconds: the channel's own reconnection
    // backoff (grpc-js defaults to two minutes at most) must not outlast our retries.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': RECONNECT_CAP_MS,
  };
  if (config.tls.server_name_override !== undefined)
    channelOptions['grpc.ssl_target_name_override'] = config.tls.server_name_override;
  const client = new Client(endpoint.target, credentials, channelOptions);
  const baseMetadata = new Metadata();
  for (const [key, value] of Object.entries(config.headers))
    baseMetadata.set(key.toLowerCase(), value.reveal());

  return {
    send(request: SendRequest): Promise<SendResult> {
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          options.grpcMethod ?? METRICS_EXPORT_PATH,
          (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          (bytes: Buffer) => bytes,
          request.bytes,
          baseMetadata.clone(),
          { deadline: Date.now() + config.timeout },
          (error, response) => {
            if (error) resolve({ ok: false, error: grpcFailure(error) });
            else resolve(toSendResult(response ?? Buffer.alloc(0)));
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}
