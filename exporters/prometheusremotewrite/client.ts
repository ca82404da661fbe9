import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parseRetryAfter } from '../../kit/delivery/retry.ts';
import type { RemoteWriteConfig } from './config.ts';

/**
 * The only I/O of the exporter: one HTTP POST of a snappy-compressed `WriteRequest` with the
 * headers the Remote-Write 1.0 specification requires, and the answer classified by its
 * retry rules: 2xx is done; 5xx and 429 may succeed later (with the server's `Retry-After`
 * when it gives one); any other 4xx will never succeed and is dropped; a connection failure
 * or a timeout is retried.
 */

/** What one POST achieved. */
export type PostOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The HTTP status; undefined when no answer came (refused, reset, timed out). */
      readonly status: number | undefined;
      readonly retryable: boolean;
      readonly message: string;
      readonly retryAfterMs?: number | undefined;
    };

/** Sends request bodies to one endpoint. */
export interface RemoteWriteClient {
  post(body: Uint8Array): Promise<PostOutcome>;
  close(): void;
}

/** Error bodies are read up to this many bytes (a message is expected, nothing more). */
const MAX_ERROR_BYTES = 64 * 1024;

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size < MAX_ERROR_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    response.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8', 0, Math.min(size, 512)).trim());
    });
    response.on('error', () => {
      resolve('');
    });
  });
}

/** Whether an HTTP status may succeed later: 5xx and 429 (Remote-Write 1.0, "Retries & Backoff"). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status < 600);
}

/** The headers of every request: the protocol's, the credentials, the user's. */
export function requestHeaders(config: RemoteWriteConfig, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.headers)) headers[key.toLowerCase()] = value.reveal();
  const { bearer_token: token, basic_auth: basic } = config.auth;
  if (token !== undefined) headers.authorization = `Bearer ${token.reveal()}`;
  if (basic !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password.reveal()}`).toString('base64')}`;
  headers['content-encoding'] = 'snappy';
  headers['content-type'] = 'application/x-protobuf';
  headers['x-prometheus-remote-write-version'] = '0.1.0';
  headers['user-agent'] = userAgent;
  return headers;
}

/** A keep-alive HTTP(S) client for `config.endpoint`. */
export function createRemoteWriteClient(config: RemoteWriteConfig, userAgent: string): RemoteWriteClient {
  const url = new URL(config.endpoint);
  const secure = url.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const request = secure ? httpsRequest : httpRequest;
  const headers = requestHeaders(config, userAgent);
  const path = `${url.pathname}${url.search}`;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');

  return {
    post(body: Uint8Array): Promise<PostOutcome> {
      return new Promise((resolve) => {
        const req = request(
          {
            method: 'POST',
            agent,
            protocol: url.protocol,
            hostname,
            port: url.port,
            path,
            headers: { ...headers, 'content-length': String(body.length) },
            signal: AbortSignal.timeout(config.timeout),
          },
          (response) => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              // Drain the body so that the connection can be reused.
              response.resume();
              response.on('end', () => {
                resolve({ ok: true });
              });
              response.on('error', () => {
                resolve({ ok: true });
              });
              return;
            }
            void readText(response).then((text) => {
              const retryable = isRetryableStatus(status);
              resolve({
                ok: false,
                status,
                retryable,
                message: `HTTP ${status}${text === '' ? '' : `: ${text}`}`,
                retryAfterMs: retryable ? parseRetryAfter(response.headers['retry-after']) : undefined,
              });
            });
          },
        );
        req.on('error', (error: Error) => {
          const timedOut = error.name === 'TimeoutError' || error.name === 'AbortError';
          resolve({
            ok: false,
            status: undefined,
            retryable: true,
            message: `${url.origin}: ${timedOut ? `request timed out after ${config.timeout} ms` : error.message}`,
          });
        });
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
