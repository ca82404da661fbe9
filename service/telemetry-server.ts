import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_TYPES, renderExposition } from '../kit/prometheus/exposition.ts';
import { negotiateFormat } from '../kit/prometheus/negotiate.ts';
import type { HostPort } from '../kit/config-types.ts';
import { toError } from '../kit/errors.ts';
import type { Logger } from '../kit/logger.ts';
import type { SelfTelemetry } from '../kit/self-telemetry.ts';

/**
 * The internal endpoint: the collector's own metrics on `/metrics` (Prometheus text format),
 * `/healthz` (the process answers) and `/readyz` (every component started).
 */
export class TelemetryServer {
  readonly #telemetry: SelfTelemetry;
  readonly #ready: () => boolean;
  readonly #logger: Logger;
  readonly #server: Server;

  constructor(telemetry: SelfTelemetry, ready: () => boolean, logger: Logger) {
    this.#telemetry = telemetry;
    this.#ready = ready;
    this.#logger = logger;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#logger.warn({ err: toError(error) }, 'telemetry endpoint request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = this.#ready();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      const { resourceMetrics } = await this.#telemetry.reader.collect();
      const format = negotiateFormat(req.headers.accept, true);
      const body = renderExposition([resourceMetrics], { format });
      res.writeHead(200, { 'content-type': CONTENT_TYPES[format] }).end(body);
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /healthz or /readyz\n');
    }
  }

  /** Starts listening; rejects when the address is taken. */
  listen({ host, port }: HostPort): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new Error(`cannot listen on ${host}:${port} for service.telemetry.metrics: ${error.message}`, {
            cause: error,
          }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  /** The bound address (the real port when 0 was asked). */
  address(): HostPort | undefined {
    const address = this.#server.address() as AddressInfo | null;
    return address === null ? undefined : { host: address.address, port: address.port };
  }

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
