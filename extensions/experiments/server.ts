import { createReadStream } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { timingSafeEqual } from 'node:crypto';
import { createGzip } from 'node:zlib';
import type { HostPort } from '../../kit/config-types.ts';
import { durationProblem, formatHostPort } from '../../kit/config-types.ts';
import { toError } from '../../kit/errors.ts';
import type { Logger } from '../../kit/logger.ts';
import { startRequestSchema } from './config.ts';
import type { ExperimentManager } from './manager.ts';
import { ExperimentError } from './manager.ts';
import type { ProxyTargetResolver } from './proxy-discovery.ts';

const MAX_BODY = 64 * 1024;
/** `host:port` a proxy request may name: a host name or IPv4 address and a port. */
const TARGET_PATTERN = /^[A-Za-z0-9.-]+:\d{1,5}$/;
/** Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Options of the control API. */
export interface ControlServerOptions {
  /**
   * The collectors `/proxy/HOST:PORT/…` may reach, as `host:port`: the token is forwarded to
   * these and to nothing else. Empty: no proxying.
   */
  readonly proxyTargets?: readonly string[];
  /**
   * Targets discovered through an API (`proxy_discovery`): the token is forwarded to the
   * address it resolves a `host:port` to, and to nothing it does not resolve.
   */
  readonly discovered?: ProxyTargetResolver;
}

/** A path segment, percent-decoded; a malformed escape is the client's error (400). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ExperimentError(400, `malformed percent-escape in the path: ${JSON.stringify(segment)}`);
  }
}

/**
 * The control API of the `experiments` extension:
 *
 *   GET    /ping                            liveness, answers {"ok":true}
 *   GET    /experiments                     running and finished experiments
 *   POST   /experiments/{name}/start        body {labels?, interval?, receivers?}
 *   POST   /experiments/{name}/stop         finishes its CSV
 *   GET    /experiments/{name}              one experiment
 *   GET    /experiments/{name}/results      its CSV (gzip when the client accepts it)
 *   DELETE /experiments/{name}              forgets it and deletes its file
 *   ANY    /proxy/{host:port}/{path}        the same request to another collector (proxy host)
 *   GET    /receivers/{id}/promoted_metrics  on-demand metrics switched on (kwollect receiver)
 *   POST   /receivers/{id}/promoted_metrics  body {device_id, metric_id}: switch on
 *   DELETE /receivers/{id}/promoted_metrics  body {device_id, metric_id}: switch off
 *
 * Every request needs `Authorization: Bearer <token>` (or `X-Inframeter-Token: <token>`).
 */
export class ControlServer {
  readonly #manager: ExperimentManager;
  readonly #token: Buffer;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #proxyTargets: ReadonlySet<string>;
  readonly #discovered: ProxyTargetResolver | undefined;

  constructor(manager: ExperimentManager, token: string, logger: Logger, options: ControlServerOptions = {}) {
    this.#manager = manager;
    this.#proxyTargets = new Set((options.proxyTargets ?? []).map((t) => t.toLowerCase()));
    this.#discovered = options.discovered;
    this.#token = Buffer.from(`Bearer ${token}`);
    this.#logger = logger;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#logger.warn({ err: toError(error), url: req.url }, 'control API request failed');
        if (!res.headersSent) send(res, 500, { error: toError(error).message });
        else res.destroy();
      });
    });
  }

  listen(address: HostPort): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(address.port, address.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  address(): HostPort | undefined {
    const a = this.#server.address();
    return a === null || typeof a === 'string' ? undefined : { host: a.address, port: a.port };
  }

  describe(): string {
    const a = this.address();
    return a === undefined ? 'not listening' : `http://${formatHostPort(a)}/experiments`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
      this.#server.closeAllConnections();
    });
  }

  /**
   * `Authorization: Bearer <token>`, or `X-Inframeter-Token: <token>` for requests that come
   * through the Kubernetes API server's pod proxy (which consumes the Authorization header).
   */
  #authorized(req: IncomingMessage): boolean {
    const header = req.headers['x-inframeter-token'];
    const given = Buffer.from(
      typeof header === 'string' ? `Bearer ${header}` : (req.headers.authorization ?? ''),
    );
    return given.length === this.#token.length && timingSafeEqual(given, this.#token);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#authorized(req)) {
      // Read and dropped, so that the connection stays usable for the client's next request.
      req.resume();
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: 'missing or wrong bearer token' });
      return;
    }
    const method = req.method ?? 'GET';
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://control');
      } catch {
        throw new ExperimentError(400, 'malformed request target');
      }
      const parts = url.pathname.split('/').slice(1).map(decodeSegment);
      if (parts[0] === 'proxy') {
        await this.#proxy(req, res, url);
        return;
      }
      // The on-demand metrics route reads its own body.
      if (parts[0] === 'receivers' && parts[2] === 'promoted_metrics' && parts.length === 3) {
        await this.#promoted(req, res, method, parts[1] ?? '');
        return;
      }
      // Every other route but start ignores a body: it is read (bounded) and dropped before
      // the answer, so that a keep-alive connection is left clean for the next request.
      if (!(method === 'POST' && parts[2] === 'start')) await readBody(req);
      if (method === 'GET' && url.pathname === '/ping') {
        send(res, 200, { ok: true });
        return;
      }
      if (parts[0] !== 'experiments') throw new ExperimentError(404, `no route ${method} ${url.pathname}`);
      const [, name, action] = parts;
      if (name === undefined || name === '') {
        if (method !== 'GET') throw new ExperimentError(405, `${method} /experiments: use GET`);
        send(res, 200, { experiments: this.#manager.list() });
        return;
      }
      if (action === undefined) {
        if (method === 'GET') send(res, 200, this.#manager.get(name));
        else if (method === 'DELETE') {
          this.#manager.delete(name);
          send(res, 200, { deleted: name });
        } else throw new ExperimentError(405, `${method} /experiments/${name}: use GET or DELETE`);
        return;
      }
      if (action === 'start' && method === 'POST') {
        const body = await readJson(req);
        const parsed = startRequestSchema.safeParse(body ?? {});
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
          throw new ExperimentError(400, problems.join('; '));
        }
        const interval = parsed.data.interval;
        const problem = interval === undefined ? undefined : durationProblem(interval);
        if (problem !== undefined) throw new ExperimentError(400, `interval: ${problem}`);
        send(res, 201, await this.#manager.start(name, parsed.data));
        return;
      }
      if (action === 'stop' && method === 'POST') {
        send(res, 200, await this.#manager.stop(name));
        return;
      }
      if (action === 'results' && method === 'GET') {
        const path = this.#manager.resultsPath(name);
        const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
        res.writeHead(200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="${name}.csv"`,
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        });
        await (gzip
          ? pipeline(createReadStream(path), createGzip(), res)
          : pipeline(createReadStream(path), res));
        return;
      }
      throw new ExperimentError(404, `no route ${method} ${url.pathname}`);
    } catch (error) {
      if (!(error instanceof ExperimentError)) throw error;
      // A body left unread (too large) leaves the connection unusable for another request.
      if (!req.complete) res.setHeader('connection', 'close');
      send(res, error.status, { error: error.message });
    }
  }

  /** A receiver's on-demand metrics (kwollect's promoted_metrics): list, switch on, switch off. */
  async #promoted(req: IncomingMessage, res: ServerResponse, method: string, id: string): Promise<void> {
    // Read (bounded) before any answer, so that a keep-alive connection is left clean.
    const body = (await readJson(req)) as Record<string, unknown> | undefined;
    const receiver = this.#manager.receiver(id);
    if (receiver?.listPromotedMetrics === undefined || receiver.promoteMetrics === undefined)
      throw new ExperimentError(404, `no receiver ${id} with on-demand metrics`);
    if (method === 'GET') {
      send(res, 200, receiver.listPromotedMetrics());
      return;
    }
    if (method !== 'POST' && method !== 'DELETE')
      throw new ExperimentError(405, `${method} /receivers/${id}/promoted_metrics: use GET, POST or DELETE`);
    const device = body?.device_id;
    const metric = body?.metric_id;
    if (typeof device !== 'string' || device === '' || typeof metric !== 'string' || metric === '')
      throw new ExperimentError(400, 'body must be {"device_id": "…", "metric_id": "…"}');
    const promotion = { device_id: device, metric_id: metric };
    if (method === 'POST') {
      try {
        receiver.promoteMetrics(promotion);
      } catch (error) {
        throw new ExperimentError(400, `metric_id: ${toError(error).message}`);
      }
      send(res, 201, promotion);
    } else if (receiver.demoteMetrics?.(promotion) === true) send(res, 200, promotion);
    else throw new ExperimentError(404, `${JSON.stringify(promotion)} was not switched on here`);
  }

  /**
   * Forwards the request, token included, to the collector named in the path, if the
   * operator listed it (`proxy_targets`) or it was discovered (`proxy_discovery`: a Running
   * pod, by IP or name, at the configured port); any other target is refused (403) and gets
   * nothing.
   */
  async #proxy(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const rest = url.pathname.slice('/proxy/'.length);
    const slash = rest.indexOf('/');
    const target = decodeSegment(slash < 0 ? rest : rest.slice(0, slash));
    if (!TARGET_PATTERN.test(target))
      throw new ExperimentError(400, `proxy target ${JSON.stringify(target)}: expected host:port`);
    const [named = '', port = ''] = target.split(':');
    const host = this.#proxyTargets.has(target.toLowerCase())
      ? named
      : this.#discovered?.resolve(named, Number(port));
    if (host === undefined)
      throw new ExperimentError(
        403,
        `proxy target ${target} is not one of this collector's proxy_targets${this.#discovered === undefined ? '' : ' nor a discovered pod'}: not forwarded`,
      );
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
    );
    const path = `${slash < 0 ? '/' : rest.slice(slash)}${url.search}`;
    await new Promise<void>((resolve, reject) => {
      const upstream = httpRequest(
        {
          host,
          port: Number(port),
          path,
          method: req.method,
          headers: { ...headers, host: target },
          timeout: 30_000,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          pipeline(answer, res).then(resolve, reject);
        },
      );
      upstream.on('timeout', () => upstream.destroy(new Error(`proxy to ${target}: timed out`)));
      upstream.on('error', (error) => {
        if (res.headersSent) reject(error);
        else {
          send(res, 502, { error: `proxy to ${target}: ${error.message}` });
          resolve();
        }
      });
      pipeline(req, upstream).catch(reject);
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body, at most MAX_BODY bytes (413 beyond). */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      // The rest is not read: the connection is closed after the answer (see #handle).
      if (size > MAX_BODY) throw new ExperimentError(413, `request body over ${String(MAX_BODY)} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ExperimentError) throw error;
    throw new ExperimentError(400, `request body could not be read: ${toError(error).message}`);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req)).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ExperimentError(400, 'request body is not JSON');
  }
}
