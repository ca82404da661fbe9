import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A recorded Kubernetes API server on loopback for the kubevirt_logs receiver: the node's
 * VirtualMachineInstances and virt-launcher pods (LIST, then a WATCH that stays open), the
 * virt-handler pods of a namespace (filtered by `labelSelector` and `fieldSelector` as the API
 * does), and the pod log endpoint `GET /api/v1/namespaces/NS/pods/POD/log`, which honours
 * `container`, `sinceTime` (lines at or after it), `timestamps` and `limitBytes` as the kubelet
 * does. Errors are `Status` objects as the API server writes them.
 */

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

/** A request the server received. */
export interface SeenRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
}

/** A scripted failure of one log. */
export interface LogFailure {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

export interface LogApiServer {
  readonly url: string;
  /** A kubeconfig file for this server (bearer token `token`). */
  readonly kubeconfigPath: string;
  readonly requests: SeenRequest[];
  /** Log lines (with the kubelet timestamp prefix) by `namespace/pod/container`. */
  readonly logs: Map<string, string[]>;
  /** Failures by `namespace/pod/container`; they answer until deleted. */
  readonly failures: Map<string, LogFailure>;
  /** Logs whose requests are never answered (a stuck kubelet). */
  readonly hanging: Set<string>;
  /** LIST paths that answer `500` while their count is above 0 (each answer takes one). */
  readonly failingLists: Map<string, number>;
  /** The log requests for `namespace/pod/container`, in order. */
  logRequests(key: string): URLSearchParams[];
  close(): Promise<void>;
}

interface PodLike {
  metadata?: { labels?: Record<string, string> };
  spec?: { nodeName?: string };
}

function matchesSelectors(pod: PodLike, query: URLSearchParams): boolean {
  for (const term of (query.get('labelSelector') ?? '').split(',').filter((t) => t !== '')) {
    const [key, value] = term.split('=');
    if (key === undefined || pod.metadata?.labels?.[key] !== value) return false;
  }
  for (const term of (query.get('fieldSelector') ?? '').split(',').filter((t) => t !== '')) {
    const [key, value] = term.split('=');
    if (key === 'spec.nodeName' && pod.spec?.nodeName !== value) return false;
  }
  return true;
}

/** Time of a timestamped log line in nanoseconds (for `sinceTime`). */
function lineTimeNs(line: string): bigint {
  const stamp = line.slice(0, line.indexOf(' '));
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(stamp);
  if (m === null) throw new Error(`bad fixture line ${line}`);
  return BigInt(Date.parse(`${m[1] ?? ''}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Starts the server; `collections` maps a LIST path to its List JSON. */
export async function startLogApiServer(
  directory: string,
  collections: Readonly<Record<string, string>>,
  token = 'recorded-token',
): Promise<LogApiServer> {
  const requests: SeenRequest[] = [];
  const logs = new Map<string, string[]>();
  const failures = new Map<string, LogFailure>();
  const hanging = new Set<string>();
  const failingLists = new Map<string, number>();
  const holding = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const json = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (req.headers.authorization !== `Bearer ${token}`) {
      json(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const log = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname);
    if (log !== null) {
      const [, namespace = '', pod = ''] = log;
      const container = url.searchParams.get('container') ?? '';
      const key = `${namespace}/${pod}/${container}`;
      if (hanging.has(key)) {
        holding.add(res);
        return;
      }
      const failure = failures.get(key);
      if (failure !== undefined) {
        json(failure.status, statusBody(failure.status, failure.reason, failure.message));
        return;
      }
      const lines = logs.get(key);
      if (lines === undefined) {
        json(404, statusBody(404, 'NotFound', `pods "${pod}" not found`));
        return;
      }
      const since = url.searchParams.get('sinceTime');
      const sinceNs = since === null ? undefined : BigInt(Date.parse(since)) * 1_000_000n;
      const timestamps = url.searchParams.get('timestamps') === 'true';
      const selected = lines
        .filter((line) => sinceNs === undefined || lineTimeNs(line) >= sinceNs)
        .map((line) => (timestamps ? line : line.slice(line.indexOf(' ') + 1)));
      let body = Buffer.from(selected.map((line) => `${line}\n`).join(''));
      const limit = Number(url.searchParams.get('limitBytes') ?? '0');
      if (limit > 0 && body.length > limit) body = body.subarray(0, limit);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
      return;
    }
    const list = collections[url.pathname];
    if (list === undefined) {
      json(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const failing = failingLists.get(url.pathname) ?? 0;
    if (failing > 0) {
      failingLists.set(url.pathname, failing - 1);
      json(500, statusBody(500, 'InternalError', 'etcdserver: request timed out'));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      // The watch stays open with no event: the lists are the state.
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write('');
      holding.add(res);
      return;
    }
    const parsed = JSON.parse(list) as { items: PodLike[] };
    parsed.items = parsed.items.filter((item) => matchesSelectors(item, url.searchParams));
    json(200, JSON.stringify(parsed));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${String(port)}`;
  const kubeconfigPath = join(directory, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: recorded\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true`,
      'users:',
      `- name: agent\n  user:\n    token: ${token}`,
      'contexts:',
      '- name: recorded\n  context:\n    cluster: recorded\n    user: agent',
      'current-context: recorded',
      '',
    ].join('\n'),
  );
  return {
    url,
    kubeconfigPath,
    requests,
    logs,
    failures,
    hanging,
    failingLists,
    logRequests(key) {
      const [namespace, pod, container] = key.split('/');
      return requests
        .filter(
          (r) =>
            r.path === `/api/v1/namespaces/${namespace ?? ''}/pods/${pod ?? ''}/log` &&
            r.query.get('container') === container,
        )
        .map((r) => r.query);
    },
    async close() {
      for (const res of holding) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
