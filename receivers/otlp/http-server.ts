import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServerType, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { HostPort } from '../../kit/config-types.ts';
import { formatHostPort } from '../../kit/config-types.ts';
import type { DecodedRequest } from '../../kit/otlp/decode.ts';
import { otlpTypes } from '../../kit/otlp/proto.ts';
import type { OtlpReceiverConfig } from './config.ts';
import type { Ingest, IngestResult } from './ingest.ts';
import { encodeResponse, responseJson } from './ingest.ts';

type HttpConfig = NonNullable<OtlpReceiverConfig['protocols']['http']>;

/** The OTLP/HTTP metrics path. */
export const METRICS_PATH = '/v1/metrics';

type Format = 'protobuf' | 'json';

const HTTP_STATUS: Record<Exclude<IngestResult['outcome'], 'ok'>, number> = {
  invalid: 400,
  too_large: 413,
  unsupported_media_type: 415,
  unauthenticated: 401,
  unavailable: 503,
  refused: 400,
};

/** gRPC status codes carried in the `google.rpc.Status` body of an error response. */
const RPC_CODE: Record<Exclude<IngestResult['outcome'], 'ok'>, number> = {
  invalid: 3,
  too_large: 8,
  unsupported_media_type: 3,
  unauthenticated: 16,
  unavailable: 14,
  refused: 3,
};

/** After refusing an oversized body, at most this much more is read (to let the client see the answer). */
const DRAIN_LIMIT = 64 * 1024 * 1024;

function formatOf(contentType: string | undefined): Format | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

class TooLarge extends Error {}

/** Reads the body, decompressing gzip or deflate, stopping as soon as `limit` bytes are exceeded. */
function readBody(req: IncomingMessage, limit: number, encoding: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let source: IncomingMessage | Transform = req;
    if (encoding === 'gzip' || encoding === 'deflate') {
      const inflater = encoding === 'gzip' ? createGunzip() : createInflate();
      req.on('error', reject);
      source = req.pipe(inflater);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let rawSize = 0;
    const fail = (error: Error): void => {
      req.unpipe();
      source.removeAllListeners('data');
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      rawSize += chunk.length;
      if (rawSize > limit) fail(new TooLarge(`request body larger than ${limit} bytes`));
    });
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(new TooLarge(`request body larger than ${limit} bytes after decompression`));
        return;
      }
      chunks.push(chunk);
    });
    source.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    source.on('error', (error: Error) => {
      fail(new Error(`cannot decompress the body (${encoding}): ${error.message}`));
    });
  });
}

/** The OTLP/HTTP server: `POST /v1/metrics` with protobuf or JSON bodies. */
export class HttpServer {
  readonly #server: HttpServerType;
  readonly #config: HttpConfig;
  readonly #ingest: Ingest;
  readonly #checkToken: (authorization: string | undefined) => boolean;
  #address: HostPort | undefined;

  constructor(
    config: HttpConfig,
    ingest: Ingest,
    checkToken: (authorization: string | undefined) => boolean,
  ) {
    this.#config = config;
    this.#ingest = ingest;
    this.#checkToken = checkToken;
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        // A bug must not take the server down: answer 500 and keep serving.
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy(error instanceof Error ? error : undefined);
      });
    };
    const tls = config.tls;
    this.#server =
      tls === undefined
        ? createHttpServer(listener)
        : createHttpsServer(
            {
              cert: readFileSync(tls.cert_file),
              key: readFileSync(tls.key_file),
              ...(tls.client_ca_file === undefined
                ? {}
                : { ca: readFileSync(tls.client_ca_file), requestCert: true, rejectUnauthorized: true }),
            },
            listener,
          );
    this.#server.keepAliveTimeout = 30_000;
    this.#server.requestTimeout = 60_000;
  }

  #reply(
    res: ServerResponse,
    format: Format,
    result: IngestResult,
    extraHeaders: Record<string, string> = {},
  ): void {
    if (result.outcome === 'ok') {
      const body = format === 'json' ? responseJson(result) : Buffer.from(encodeResponse(result));
      res.writeHead(200, {
        'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
      return;
    }
    const code = RPC_CODE[result.outcome];
    const body =
      format === 'json'
        ? JSON.stringify({ code, message: result.message })
        : Buffer.from(otlpTypes.Status.encode({ code, message: result.message }).finish());
    res.writeHead(HTTP_STATUS[result.outcome], {
      'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf',
      'content-length': String(Buffer.byteLength(body)),
      ...extraHeaders,
    });
    res.end(body);
  }

  /** Answers, then reads and discards a bounded amount of the unread body before closing. */
  #refuseBody(
    req: IncomingMessage,
    res: ServerResponse,
    format: Format,
    result: IngestResult,
    headers: Record<string, string> = {},
  ): void {
    this.#reply(res, format, result, { connection: 'close', ...headers });
    let drained = 0;
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT) req.destroy();
    });
    req.resume();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    const format = formatOf(req.headers['content-type']) ?? 'protobuf';
    if (path !== METRICS_PATH) {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`not found: OTLP metrics are accepted at POST ${METRICS_PATH}\n`);
      req.resume();
      return;
    }
    if (req.method !== 'POST') {
      res
        .writeHead(405, { allow: 'POST', 'content-type': 'text/plain' })
        .end('method not allowed: use POST\n');
      req.resume();
      return;
    }
    if (!this.#checkToken(req.headers.authorization)) {
      this.#refuseBody(
        req,
        res,
        format,
        this.#ingest.refuse('http', 'unauthenticated', 'missing or invalid bearer token'),
        {
          'www-authenticate': 'Bearer',
        },
      );
      return;
    }
    const bodyFormat = formatOf(req.headers['content-type']);
    if (bodyFormat === undefined) {
      this.#refuseBody(
        req,
        res,
        format,
        this.#ingest.refuse(
          'http',
          'unsupported_media_type',
          `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}: use application/x-protobuf or application/json`,
        ),
      );
      return;
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (!['identity', 'gzip', 'deflate', ''].includes(encoding)) {
      this.#refuseBody(
        req,
        res,
        format,
        this.#ingest.refuse(
          'http',
          'unsupported_media_type',
          `unsupported content encoding ${JSON.stringify(encoding)}: use gzip`,
        ),
      );
      return;
    }
    const limit = this.#config.max_request_body_size;
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > limit) {
      this.#refuseBody(
        req,
        res,
        format,
        this.#ingest.refuse(
          'http',
          'too_large',
          `request body of ${declared} bytes is larger than ${limit} bytes`,
        ),
      );
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, limit, encoding);
    } catch (error) {
      const tooLarge = error instanceof TooLarge;
      this.#refuseBody(
        req,
        res,
        format,
        this.#ingest.refuse('http', tooLarge ? 'too_large' : 'invalid', (error as Error).message),
      );
      return;
    }
    let decoded: DecodedRequest;
    try {
      decoded =
        bodyFormat === 'json' ? this.#ingest.decodeJson(body.toString('utf8')) : this.#ingest.decode(body);
    } catch (error) {
      this.#reply(
        res,
        format,
        this.#ingest.refuse(
          'http',
          'invalid',
          `malformed ExportMetricsServiceRequest (${bodyFormat}): ${(error as Error).message}`,
        ),
      );
      return;
    }
    this.#reply(res, bodyFormat, await this.#ingest.ingest('http', decoded));
  }

  /** Binds and starts serving; resolves with the bound address. */
  listen(): Promise<HostPort> {
    const { host, port } = this.#config.endpoint;
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new Error(`cannot listen on ${formatHostPort(this.#config.endpoint)} (HTTP): ${error.message}`, {
            cause: error,
          }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const address = this.#server.address() as AddressInfo;
        this.#address = { host, port: address.port };
        resolve(this.#address);
      });
    });
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  /** Stops accepting connections, lets requests in progress finish, closes idle connections. */
  close(graceMs = 5_000): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.#server.closeAllConnections();
      }, graceMs);
      timer.unref();
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
