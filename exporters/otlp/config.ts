import { z } from 'zod';
import { duration, parseHostPort, secret } from '../../kit/config-types.ts';
import type { Secret } from '../../kit/config-types.ts';
import { deliveryOptions } from '../../kit/delivery/config.ts';
import type { DeliveryConfig } from '../../kit/delivery/config.ts';

/** Protocols of the OTLP exporter (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`). */
export const PROTOCOLS = ['grpc', 'http/protobuf'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Default path of the metrics endpoint of OTLP/HTTP. */
export const METRICS_PATH = '/v1/metrics';

const tlsSchema = z
  .strictObject({
    /** Plain text (no TLS) when the endpoint has no scheme. Meant for loopback and trusted networks. */
    insecure: z.boolean().default(false),
    /** PEM file of the CA(s) that sign the server's certificate; default: the system's CAs. */
    ca_file: z.string().min(1).optional(),
    /** PEM client certificate, for servers that require mutual TLS (with key_file). */
    cert_file: z.string().min(1).optional(),
    /** PEM private key of the client certificate. */
    key_file: z.string().min(1).optional(),
    /** Accept any server certificate (testing only). */
    insecure_skip_verify: z.boolean().default(false),
    /** Name checked in the server's certificate instead of the endpoint's host. */
    server_name_override: z.string().min(1).optional(),
  })
  .superRefine((tls, ctx) => {
    if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [tls.cert_file === undefined ? 'cert_file' : 'key_file'],
        message: 'cert_file and key_file go together',
      });
    }
  });

/** The `otlp` exporter's settings. */
export const configSchema = z
  .strictObject({
    /**
     * Where to send. gRPC: `host:port` or `http(s)://host:port`. HTTP: `http(s)://host:port`
     * (the path defaults to `/v1/metrics`) or `host:port`.
     */
    endpoint: z.string().min(1),
    protocol: z.enum(PROTOCOLS).default('grpc'),
    tls: tlsSchema.prefault({}),
    /** Request headers (gRPC metadata); values are secrets, e.g. `authorization: "Bearer ${env:TOKEN}"`. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-_.]+$/, 'invalid header name'), secret()).default({}),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    /** Time limit of one request. */
    timeout: duration().prefault('10s'),
    /** `cumulative` sends what the pipeline carries; `delta` turns cumulative monotonic sums and histograms into deltas. */
    temporality: z.enum(['cumulative', 'delta']).default('cumulative'),
    ...deliveryOptions,
  })
  .superRefine((config, ctx) => {
    const endpoint = resolveEndpointOrProblem(config.endpoint, config.protocol, config.tls.insecure);
    if (typeof endpoint === 'string') {
      ctx.addIssue({ code: 'custom', path: ['endpoint'], message: endpoint });
      return;
    }
    const usesFiles = config.tls.ca_file !== undefined || config.tls.cert_file !== undefined;
    if (!endpoint.secure && usesFiles) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'ca_file, cert_file and key_file need TLS: use an https:// endpoint or drop tls.insecure',
      });
    }
    if (endpoint.secure && config.tls.insecure && /^https:\/\//i.test(config.endpoint)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'insecure'],
        message: 'contradicts the https:// endpoint',
      });
    }
  });

/** The `otlp` exporter's parsed config. */
export interface OtlpExporterConfig extends DeliveryConfig {
  endpoint: string;
  protocol: Protocol;
  tls: {
    insecure: boolean;
    ca_file?: string | undefined;
    cert_file?: string | undefined;
    key_file?: string | undefined;
    insecure_skip_verify: boolean;
    server_name_override?: string | undefined;
  };
  headers: Record<string, Secret>;
  compression: 'gzip' | 'none';
  timeout: number;
  temporality: 'cumulative' | 'delta';
}

/** Where to connect: host, port, TLS or not, and the URL of an HTTP endpoint. */
export interface ResolvedEndpoint {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** The full URL (HTTP) or `host:port` (gRPC target). */
  readonly target: string;
}

/** Resolves the endpoint, or returns what is wrong with it. */
export function resolveEndpointOrProblem(
  endpoint: string,
  protocol: Protocol,
  insecure: boolean,
): ResolvedEndpoint | string {
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint);
  if (schemeMatch === null) {
    const hp = parseHostPort(endpoint);
    if (hp === undefined || hp.port === 0)
      return `expected host:port or http(s)://host:port, got ${JSON.stringify(endpoint)}`;
    const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
    const secure = !insecure;
    const target =
      protocol === 'grpc'
        ? `${host}:${hp.port}`
        : `${secure ? 'https' : 'http'}://${host}:${hp.port}${METRICS_PATH}`;
    return { host: hp.host, port: hp.port, secure, target };
  }
  const scheme = (schemeMatch[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https')
    return `unsupported scheme ${JSON.stringify(scheme)}: use http:// or https://`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `invalid URL ${JSON.stringify(endpoint)}`;
  }
  const secure = scheme === 'https';
  const port = url.port === '' ? (protocol === 'grpc' ? 4317 : secure ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (protocol === 'grpc') {
    if (url.pathname !== '/' && url.pathname !== '') return 'a gRPC endpoint has no path';
    return { host, port, secure, target: `${url.hostname}:${port}` };
  }
  const path = url.pathname === '/' || url.pathname === '' ? METRICS_PATH : url.pathname;
  return { host, port, secure, target: `${scheme}://${url.hostname}:${port}${path}${url.search}` };
}

/** Resolves a validated endpoint. */
export function resolveEndpoint(
  config: Pick<OtlpExporterConfig, 'endpoint' | 'protocol' | 'tls'>,
): ResolvedEndpoint {
  const resolved = resolveEndpointOrProblem(config.endpoint, config.protocol, config.tls.insecure);
  if (typeof resolved === 'string') throw new Error(`endpoint: ${resolved}`);
  return resolved;
}

/** Whether a host is the loopback interface (plain text there needs no warning). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
