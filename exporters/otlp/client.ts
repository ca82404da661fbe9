import { readFileSync } from 'node:fs';
import type { OtlpExporterConfig, ResolvedEndpoint } from './config.ts';
import type { SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { otlpTypes } from '../../kit/otlp/proto.ts';
import type { OtlpExportResponse } from '../../kit/otlp/proto.ts';

/** What the OTLP exporter needs from a transport: send one request, close. */
export interface OtlpClient {
  send(request: SendRequest): Promise<SendResult>;
  close(): void;
}

/** PEM material read from the `tls` settings. */
export interface TlsMaterial {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

/** Reads the CA, certificate and key files named in the config (at start, so a missing file fails the start). */
export function readTlsMaterial(tls: OtlpExporterConfig['tls']): TlsMaterial {
  const read = (key: 'ca_file' | 'cert_file' | 'key_file'): Buffer | undefined => {
    const path = tls[key];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`tls.${key}: cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  };
  return { ca: read('ca_file'), cert: read('cert_file'), key: read('key_file') };
}

/** The settings a transport is built from. */
export interface ClientOptions {
  readonly config: OtlpExporterConfig;
  readonly endpoint: ResolvedEndpoint;
  readonly tls: TlsMaterial;
  readonly userAgent: string;
  /** The gRPC method to call; default: the metrics service's `Export`. */
  readonly grpcMethod?: string;
}

/** Decodes an `ExportMetricsServiceResponse` into a success with its partial-success report. */
export function toSendResult(body: Uint8Array): SendResult {
  if (body.length === 0) return { ok: true };
  let response: OtlpExportResponse;
  try {
    response = otlpTypes.ExportMetricsServiceResponse.decode(body) as unknown as OtlpExportResponse;
  } catch {
    // The data was accepted (2xx / OK); an unreadable body only loses the partial-success detail.
    return { ok: true };
  }
  const partial = response.partialSuccess;
  if (partial === null || partial === undefined) return { ok: true };
  const rejected = Number(partial.rejectedDataPoints);
  return rejected > 0 || partial.errorMessage !== ''
    ? { ok: true, rejected, message: partial.errorMessage }
    : { ok: true };
}
