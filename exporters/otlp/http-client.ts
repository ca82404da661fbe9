import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { otlpTypes } from '../../kit/otlp/proto.ts';
import type { RpcStatus } from '../../kit/otlp/proto.ts';
import { ExportFailure, httpFailure } from '../../kit/delivery/retry.ts';
import type { ClientOptions, OtlpClient } from './client.ts';
import { toSendResult } from './client.ts';

const gzipAsync = promisify(gzip);

/** Responses larger than this are cut: only a status message or a partial-success report is expected. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

const PROTOBUF = 'application/x-protobuf';

function readBody(response: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
    });
    response.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    response.on('error', reject);
  });
}

/** The message of an error response: a `google.rpc.Status` (protobuf) or the text of the body. */
function errorMessage(response: IncomingMessage, body: Buffer): string {
  if ((response.headers['content-type'] ?? '').startsWith(PROTOBUF)) {
    try {
      return (otlpTypes.Status.decode(body) as unknown as RpcStatus).message;
    } catch {
      // Fall back to the raw text.
    }
  }
  return body.toString('utf8', 0, Math.min(body.length, 512)).trim();
}

/** OTLP over HTTP with the protobuf encoding (`POST /v1/metrics`), with node:http(s). */
export function createHttpClient(options: ClientOptions): OtlpClient {
  const { config, endpoint, tls } = options;
  const url = new URL(endpoint.target);
  const agent = endpoint.secure
    ? new HttpsAgent({
        keepAlive: true,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        rejectUnauthorized: !config.tls.insecure_skip_verify,
        ...(config.tls.server_name_override === undefined
          ? {}
          : { servername: config.tls.server_name_override }),
      })
    : new HttpAgent({ keepAlive: true });
  const request = endpoint.secure ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { 'content-type': PROTOBUF, 'user-agent': options.userAgent };
  for (const [key, value] of Object.entries(config.headers)) headers[key.toLowerCase()] = value.reveal();

  const post = (body: Uint8Array): Promise<SendResult> =>
    new Promise((resolve) => {
      const requestOptions: RequestOptions = {
        method: 'POST',
        agent,
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        headers: {
          ...headers,
          ...(config.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
          'content-length': String(body.length),
        },
        signal: AbortSignal.timeout(config.timeout),
      };
      const req = request(requestOptions, (response) => {
        readBody(response).then(
          (data) => {
            const code = response.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(toSendResult(data));
            else {
              resolve({
                ok: false,
                error: httpFailure(code, errorMessage(response, data), response.headers['retry-after']),
              });
            }
          },
          (error: unknown) => {
            resolve({
              ok: false,
              error: new ExportFailure(`reading the response failed: ${(error as Error).message}`, {
                retryable: true,
                cause: error,
              }),
            });
          },
        );
      });
      req.on('error', (error: Error) => {
        // Connection refused or reset, DNS failure, timeout: transient.
        const timedOut = error.name === 'TimeoutError' || error.name === 'AbortError';
        const message = timedOut ? `request timed out after ${config.timeout} ms` : error.message;
        resolve({
          ok: false,
          error: new ExportFailure(`${url.origin}: ${message}`, { retryable: true, cause: error }),
        });
      });
      req.end(body);
    });

  return {
    async send(sendRequest: SendRequest): Promise<SendResult> {
      const body = config.compression === 'gzip' ? await gzipAsync(sendRequest.bytes) : sendRequest.bytes;
      return post(body);
    },
    close() {
      agent.destroy();
    },
  };
}
