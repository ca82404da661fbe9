import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A recorded Kubernetes API server on loopback (no real API server can run here): each path
 * answers its LISTs and WATCHes from a script, in order, with JSON shaped exactly as the API
 * serves it (the tests keep the recorded objects under `testdata/`). A watch reply is a
 * chunked `200` carrying one event per line, after which the stream ends cleanly, breaks
 * (the socket is destroyed mid-line, as when an API server or a proxy dies), or stays open.
 */

/** One answer to a LIST or a WATCH. */
export type Reply =
  /** A plain answer: a List object, or a `Status` with an error code (401, 403, 410, 500). */
  | { readonly status: number; readonly body: string; readonly delayMs?: number }
  /** A watch stream: `events` are JSON lines, written `intervalMs` apart. */
  | {
      readonly events: readonly string[];
      /** `end`: the server closes the stream; `drop`: the connection breaks; `hold`: stays open. */
      readonly then: 'end' | 'drop' | 'hold';
      readonly intervalMs?: number;
    };

/** The script of one collection path: the n-th LIST gets `list[n]`, the n-th WATCH `watch[n]`; the last repeats. */
export interface Route {
  readonly list: readonly Reply[];
  readonly watch: readonly Reply[];
}

/** A request the server received. */
export interface RecordedRequest {
  readonly path: string;
  readonly watch: boolean;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
}

export interface RecordedApi {
  readonly url: string;
  /** A KubeConfig pointing at this server with a bearer token. */
  readonly kubeConfig: KubeConfig;
  readonly requests: readonly RecordedRequest[];
  /** Resolves once `condition` holds for the requests received (polled), or rejects after `ms`. */
  waitFor(
    condition: (requests: readonly RecordedRequest[]) => boolean,
    what: string,
    ms?: number,
  ): Promise<void>;
  close(): Promise<void>;
}

/** A `Status` object as the API server answers an error. */
export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

const NOT_FOUND = statusBody(404, 'NotFound', 'the server could not find the requested resource');

/** Starts the server on 127.0.0.1, port 0. */
export async function startRecordedApi(routes: Readonly<Record<string, Route>>): Promise<RecordedApi> {
  const requests: RecordedRequest[] = [];
  const counters = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const next = (key: string, replies: readonly Reply[]): Reply | undefined => {
    const n = counters.get(key) ?? 0;
    counters.set(key, n + 1);
    return replies[Math.min(n, replies.length - 1)];
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const watch = url.searchParams.get('watch') === 'true';
    requests.push({
      path: url.pathname,
      watch,
      query: url.searchParams,
      authorization: req.headers.authorization,
    });
    const route = routes[url.pathname];
    const reply =
      route === undefined
        ? undefined
        : next(`${url.pathname} ${String(watch)}`, watch ? route.watch : route.list);
    if (reply === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(NOT_FOUND);
      return;
    }
    if ('status' in reply) {
      const answer = (): void => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body);
      };
      if (reply.delayMs === undefined) answer();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, reply.delayMs);
        timers.add(timer);
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const events = [...reply.events];
    const step = (): void => {
      const event = events.shift();
      if (event !== undefined) {
        res.write(`${event}\n`);
        schedule();
        return;
      }
      if (reply.then === 'end') res.end();
      else if (reply.then === 'drop') {
        // Half an event, then the connection is cut.
        res.write('{"type":"MODIFIED","object":{"kind":');
        const timer = setTimeout(() => {
          timers.delete(timer);
          res.socket?.destroy();
        }, 20);
        timers.add(timer);
      }
    };
    const schedule = (): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        step();
      }, reply.intervalMs ?? 20);
      timers.add(timer);
    };
    schedule();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${String(port)}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'recorded', server: url, skipTLSVerify: true }],
    users: [{ name: 'agent', token: 'recorded-token' }],
    contexts: [{ name: 'recorded', cluster: 'recorded', user: 'agent' }],
    currentContext: 'recorded',
  });
  return {
    url,
    kubeConfig,
    requests,
    async waitFor(condition, what, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!condition(requests)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
