import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { constants, gzip, gzipSync } from 'node:zlib';
import type { HostPort } from '../../kit/config-types.ts';
import { formatHostPort } from '../../kit/config-types.ts';
import { toError } from '../../kit/errors.ts';
import type { Logger } from '../../kit/logger.ts';
import type { ExpositionFormat } from '../../kit/prometheus/exposition.ts';
import { CONTENT_TYPES } from '../../kit/prometheus/exposition.ts';
import { negotiateFormat } from '../../kit/prometheus/negotiate.ts';

/**
 * The scrape endpoint: `GET /metrics` answers with what `render` returns for the negotiated
 * format (gzip-compressed when the scraper accepts it), `GET /` with a pointer to it, other
 * paths with 404 and methods other than GET and HEAD with 405. This is the exporter's only I/O.
 */

/**
 * Renders the exposition in a format as UTF-8 bytes; called once per scrape, must not block on
 * I/O. The bytes may be a view of a buffer that the next call reuses: the server consumes
 * them (compresses or copies them) before it returns to the event loop.
 */
export type RenderExposition = (format: ExpositionFormat) => Uint8Array;

const INDEX_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>inframeter</title></head>
<body><h1>inframeter</h1><p>Metrics for Prometheus: <a href="/metrics">/metrics</a></p></body></html>
`;

/**
 * The fastest compression level: an exposition is repetitive text that level 1 already
 * shrinks about tenfold (48 kB to 4.4 kB for the procfs receiver), for less than half the CPU
 * of level 6.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

/**
 * Expositions up to this size are compressed in the request handler (at most a few
 * milliseconds of CPU at level 1; 0.15 ms for the procfs receiver's 48 kB), without the
 * thread pool's hand-offs and stream machinery and without keeping the exposition alive until
 * a callback; larger ones on the thread pool, so that the event loop goes on meanwhile.
 */
const GZIP_IN_HANDLER_BYTES = 1024 * 1024;

/** `bytes` gzip-compressed; the copy handed to the thread pool when they are large. */
function gzipBytes(bytes: Uint8Array): Buffer | Promise<Buffer> {
  if (bytes.length <= GZIP_IN_HANDLER_BYTES) return gzipSync(bytes, GZIP_OPTIONS);
  const copy = Buffer.from(bytes);
  return new Promise((resolve, reject) => {
    gzip(copy, GZIP_OPTIONS, (error, result) => {
      if (error === null) resolve(result);
      else reject(error);
    });
  });
}

/** An HTTP server for Prometheus scrapes. */
export class ScrapeServer {
  readonly #render: RenderExposition;
  readonly #openMetrics: boolean;
  readonly #logger: Logger;
  readonly #server: Server;

  constructor(render: RenderExposition, options: { openMetrics: boolean; logger: Logger }) {
    this.#render = render;
    this.#openMetrics = options.openMetrics;
    this.#logger = options.logger;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#logger.warn({ err: toError(error) }, 'scrape request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed: use GET\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const format = negotiateFormat(req.headers.accept, this.#openMetrics);
      const bytes = this.#render(format);
      const gzipped = /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
      // Compressed or copied now: the rendered bytes are reused by the next rendering.
      const pending = gzipped ? gzipBytes(bytes) : Buffer.from(bytes);
      const body = pending instanceof Buffer ? pending : await pending;
      const headers: Record<string, string | number> = {
        'content-type': CONTENT_TYPES[format],
        'content-length': body.length,
        vary: 'Accept, Accept-Encoding',
      };
      if (gzipped) headers['content-encoding'] = 'gzip';
      res.writeHead(200, headers).end(body);
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(INDEX_PAGE);
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('not found: metrics are on /metrics\n');
    }
  }

  /** Starts listening; rejects when the address cannot be bound (in use, not local). */
  listen({ host, port }: HostPort): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new Error(`cannot listen on ${formatHostPort({ host, port })}: ${error.message}`, { cause: error }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  /** The bound address (the real port when 0 was asked); undefined when not listening. */
  address(): HostPort | undefined {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') return undefined;
    return { host: address.address, port: address.port };
  }

  /** Stops listening and drops open connections (scrapers keep them alive); safe when not listening. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => {
        resolve();
      });
      this.#server.closeAllConnections();
    });
  }
}
