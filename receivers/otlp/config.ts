import { z } from 'zod';
import { hostPort, secret } from '../../kit/config-types.ts';
import type { HostPort, Secret } from '../../kit/config-types.ts';
import { byteSize } from '../../kit/delivery/config.ts';

const tlsSchema = z.strictObject({
  /** PEM certificate chain the server presents. */
  cert_file: z.string().min(1),
  /** PEM private key of the certificate. */
  key_file: z.string().min(1),
  /** PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS). */
  client_ca_file: z.string().min(1).optional(),
});

const grpcSchema = z.strictObject({
  /** `host:port` to listen on; port 0 picks a free port. */
  endpoint: hostPort().prefault('127.0.0.1:4317'),
  /** Largest request message accepted (after decompression); larger ones get RESOURCE_EXHAUSTED. */
  max_recv_msg_size: byteSize().prefault('4MiB'),
  tls: tlsSchema.optional(),
});

const httpSchema = z.strictObject({
  endpoint: hostPort().prefault('127.0.0.1:4318'),
  /** Largest request body accepted (before and after decompression); larger ones get 413. */
  max_request_body_size: byteSize().prefault('20MiB'),
  tls: tlsSchema.optional(),
});

/** YAML `grpc:` with nothing after it is null: the protocol with its defaults. */
function protocol<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? {} : value), schema).optional();
}

/** The `otlp` receiver's settings (the OpenTelemetry Collector's shape). */
export const configSchema = z
  .strictObject({
    protocols: z.strictObject({ grpc: protocol(grpcSchema), http: protocol(httpSchema) }),
    auth: z
      .strictObject({
        /** Clients must send `authorization: Bearer <token>`; use `${env:VAR}`. */
        bearer_token: secret(),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    if (config.protocols.grpc === undefined && config.protocols.http === undefined) {
      ctx.addIssue({ code: 'custom', path: ['protocols'], message: 'enable at least one of grpc and http' });
    }
  });

/** TLS settings of one protocol. */
export interface ServerTlsConfig {
  cert_file: string;
  key_file: string;
  client_ca_file?: string | undefined;
}

/** The `otlp` receiver's parsed config. */
export interface OtlpReceiverConfig {
  protocols: {
    grpc?: { endpoint: HostPort; max_recv_msg_size: number; tls?: ServerTlsConfig | undefined } | undefined;
    http?:
      { endpoint: HostPort; max_request_body_size: number; tls?: ServerTlsConfig | undefined } | undefined;
  };
  auth?: { bearer_token: Secret } | undefined;
}
