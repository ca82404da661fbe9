import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import type { InfluxdbExporterConfig } from './config.ts';
import { writeUrl } from './config.ts';

/** Only an error message is expected back: longer answers are cut. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** An HTTP answer to a write, or a failure to get one (always retryable). */
export type WriteResponse =
  | { readonly status: number; readonly body: string; readonly retryAfter?: string | undefined }
  | { readonly failure: ExportFailure };

/** Posts line protocol to the write endpoint of InfluxDB 1.x or 2.x (the only I/O of the exporter). */
export interface WriteClient {
  /** The write URL, without credentials (for logs and `describe`). */
  readonly url: string;
  /** Posts a request body: line protocol, gzipped or not (`Content-Encoding` follows). */
  write(body: Buffer, gzipped: boolean): Promise<WriteResponse>;
  close(): void;
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
    });
    response.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    response.on('error', reject);
  });
}

/** The `Authorization` header: Basic for 1.x user/password, `Token` for 2.x. Never logged. */
function authorization(config: InfluxdbExporterConfig): string | undefined {
  if (config.api_version === 2)
    return config.token === undefined ? undefined : `Token ${config.token.reveal()}`;
  if (config.username === undefined || config.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${config.username}:${config.password.reveal()}`).toString('base64')}`;
}

/** A keep-alive HTTP(S) client for one write endpoint. */
export function createWriteClient(config: InfluxdbExporterConfig, userAgent: string): WriteClient {
  const url = writeUrl(config);
  const secure = url.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const request = secure ? httpsRequest : httpRequest;
  const auth = authorization(config);
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'user-agent': userAgent,
    ...(auth === undefined ? {} : { authorization: auth }),
  };
  const gzipHeaders = { ...headers, 'content-encoding': 'gzip' };

  const post = (body: Buffer, gzipped: boolean): Promise<WriteResponse> =>
    new Promise((resolve) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { ...(gzipped ? gzipHeaders : headers), 'content-length': String(body.length) },
          signal: AbortSignal.timeout(config.timeout),
        },
        (response) => {
          readBody(response).then(
            (text) => {
              const retryAfter = response.headers['retry-after'];
              resolve({ status: response.statusCode ?? 0, body: text, retryAfter });
            },
            (error: unknown) => {
              resolve({
                failure: new ExportFailure(`reading the response failed: ${(error as Error).message}`, {
                  retryable: true,
                  cause: error,
                }),
              });
            },
          );
        },
      );
      req.on('error', (error: Error) => {
        // Connection refused or reset, DNS failure, timeout: transient.
        const timedOut = error.name === 'TimeoutError' || error.name === 'AbortError';
        const message = timedOut ? `request timed out after ${config.timeout} ms` : error.message;
        resolve({
          failure: new ExportFailure(`${url.origin}: ${message}`, { retryable: true, cause: error }),
        });
      });
      req.end(body);
    });

  return {
    url: url.toString(),
    write(body: Buffer, gzipped: boolean): Promise<WriteResponse> {
      return post(body, gzipped);
    },
    close() {
      agent.destroy();
    },
  };
}
