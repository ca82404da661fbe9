import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { constants, gzip } from 'node:zlib';
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

/** Renders the exposition in a format; called once per scrape, must not block on I/O. */
export type RenderExposition = (format: ExpositionFormat) => string;

const INDEX_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>inframeter</title></head>
<body><h1>inframeter</h1><p>Metrics for Prometheus: <a href="/metrics">/metrics</a></p></body></html>
`;

/**
 * The fastest compression level: an exposition is repetitive text that level 1 already
 * shrinks about tenfold (43 kB to 4.2 kB for the procfs receiver, 3.7 kB at the default
 * level 6), for less than half the CPU of level 6.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

function gzipText(text: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(text, GZIP_OPTIONS, (error, result) => {
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
      const body = this.#render(format);
      const headers: Record<string, string> = {
        'content-type': CONTENT_TYPES[format],
        vary: 'Accept, Accept-Encoding',
      };
      if (/\bgzip\b/i.test(req.headers['accept-encoding'] ?? '')) {
        const compressed = await gzipText(body);
        res.writeHead(200, { ...headers, 'content-encoding': 'gzip' }).end(compressed);
      } else {
        res.writeHead(200, headers).end(body);
      }
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
