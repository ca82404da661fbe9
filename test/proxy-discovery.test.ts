import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, poll } from './support/peers.ts';

// `/proxy/…` reaches the collectors a real gateway collector discovers through the Kubernetes
// API (a recorded API server on loopback: the PodList of an agent DaemonSet, then a watch held
// open that the test feeds), standing for pods: two real agent collectors on 127.0.0.2 and
// 127.0.0.3, and sockets that record whatever reaches the addresses that must not be reached
// (a Pending agent pod, a pod the selector does not match, a listed pod at another port).

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
const PODLIST = join(ROOT, 'extensions', 'experiments', 'testdata', 'kubernetes', 'podlist.json');
const TOKEN = 'proxy-discovery-token-7Qm';
const SELECTOR = 'app.kubernetes.io/instance=demo,app.kubernetes.io/component=agent';
const POD_A = 'demo-inframeter-agent-4kx7p';
const POD_B = 'demo-inframeter-agent-9wq2m';
const POD_PENDING = 'demo-inframeter-agent-zt5rd';

interface Pod {
  metadata: {
    name: string;
    resourceVersion: string;
    labels: Record<string, string>;
    deletionTimestamp?: string;
  };
  status: { podIP: string; phase: string };
}
interface PodList {
  kind: 'PodList';
  apiVersion: 'v1';
  metadata: { resourceVersion: string };
  items: Pod[];
}

/** `k=v,k=v` as the API server applies it (equality terms only, which is all this test sends). */
function matches(selector: string, labels: Record<string, string>): boolean {
  return selector
    .split(',')
    .filter((term) => term !== '')
    .every((term) => {
      const [key = '', value = ''] = term.split('=');
      return labels[key] === value;
    });
}

interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
}

interface RecordedApi {
  readonly server: Server;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Watch streams open now. */
  readonly watches: Set<ServerResponse>;
  /**
   * Deletes a pod as the API server does: gone from later LISTs, a `DELETED` event on every
   * open watch and on any watch resumed from an older resourceVersion.
   */
  deletePod(name: string): void;
}

/** The recorded API: LIST answers the PodList filtered by selector, WATCH streams held open. */
async function startApi(list: PodList): Promise<RecordedApi> {
  const requests: RecordedRequest[] = [];
  const watches = new Set<ServerResponse>();
  const events: { resourceVersion: number; line: string }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    if (url.pathname !== '/api/v1/namespaces/monitoring/pods') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'the server could not find the requested resource',
          reason: 'NotFound',
          code: 404,
        }),
      );
      return;
    }
    const selector = url.searchParams.get('labelSelector') ?? '';
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      const since = Number(url.searchParams.get('resourceVersion') ?? '0');
      for (const event of events) if (event.resourceVersion > since) res.write(event.line);
      watches.add(res);
      res.once('close', () => watches.delete(res));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ ...list, items: list.items.filter((p) => matches(selector, p.metadata.labels)) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as { port: number }).port,
    requests,
    watches,
    deletePod(name) {
      const pod = list.items.find((p) => p.metadata.name === name);
      if (pod === undefined) throw new Error(`no pod ${name}`);
      const resourceVersion = Number(list.metadata.resourceVersion) + 1;
      list.metadata.resourceVersion = String(resourceVersion);
      list.items = list.items.filter((p) => p !== pod);
      const object = {
        kind: 'Pod',
        apiVersion: 'v1',
        ...pod,
        metadata: {
          ...pod.metadata,
          resourceVersion: String(resourceVersion),
          deletionTimestamp: '2026-11-30T10:02:11Z',
        },
      };
      const line = `${JSON.stringify({ type: 'DELETED', object })}\n`;
      events.push({ resourceVersion, line });
      for (const watch of watches) watch.write(line);
    },
  };
}

/** A port free on every one of these loopback addresses a moment ago. */
async function portFreeOn(hosts: readonly string[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    const bound = await Promise.all(
      hosts.map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const probe = createTcpServer();
            probe.once('error', () => {
              resolve(false);
            });
            probe.listen(port, host, () => {
              probe.close(() => {
                resolve(true);
              });
            });
          }),
      ),
    );
    if (bound.every(Boolean)) return port;
  }
}

/** A socket that answers nothing and records every connection and byte that reaches it. */
async function startRecorder(host: string, port: number): Promise<{ server: TcpServer; received: string[] }> {
  const received: string[] = [];
  const server = createTcpServer((socket) => {
    received.push(`connection from ${socket.remoteAddress ?? '?'}`);
    socket.on('data', (chunk: Buffer) => received.push(chunk.toString('latin1')));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, received };
}

const children: ChildProcess[] = [];
/** What each collector printed, by name, for the failure messages. */
const outputs = new Map<string, () => string>();

/** A real collector with the experiments extension; resolves once it serves. */
async function startCollector(dir: string, name: string, extension: string[]): Promise<ChildProcess> {
  const home = join(dir, name);
  mkdirSync(home);
  const config = join(home, 'config.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  procfs:',
      '    collection_interval: 1s',
      '    groups: { filesystem: { enabled: false }, disk: { enabled: false } }',
      'exporters:',
      '  csv:',
      `    path: ${join(home, 'all.csv')}`,
      'extensions:',
      '  experiments:',
      '    bearer_token: ${env:INFRAMETER_TOKEN}',
      `    directory: ${join(home, 'experiments')}`,
      ...extension.map((line) => `    ${line}`),
      'service:',
      '  extensions: [experiments]',
      '  pipelines:',
      '    metrics: { receivers: [procfs], exporters: [csv] }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [MAIN, 'run', '--config', config], {
    env: { ...process.env, INFRAMETER_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  outputs.set(name, () => output);
  await poll(`collector ${name} started`, 60_000, () => {
    if (child.exitCode !== null) throw new Error(`collector ${name} exited: ${output}`);
    return Promise.resolve(output.includes('Press Ctrl-C') ? true : undefined);
  });
  return child;
}

async function call(
  port: number,
  method: string,
  path: string,
  host = '127.0.0.1',
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://${host}:${String(port)}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: res.status, json: await res.json() };
}

let dir = '';
let api: Awaited<ReturnType<typeof startApi>> | undefined;
const recorders: { server: TcpServer; received: string[] }[] = [];
let agentPort = 0;
let otherPort = 0;
let gatewayPort = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-proxy-discovery-'));
  api = await startApi(JSON.parse(readFileSync(PODLIST, 'utf8')) as PodList);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: lab, cluster: { server: "http://127.0.0.1:${String(api.port)}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: gateway, user: { token: gateway-sa-token } }]',
      'contexts: [{ name: lab, context: { cluster: lab, user: gateway } }]',
      'current-context: lab',
      '',
    ].join('\n'),
  );
  agentPort = await portFreeOn(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
  otherPort = await portFreeOn(['127.0.0.2']);
  gatewayPort = await freePort();
  // What must never be reached: the Pending pod, the pod the selector leaves out, and the
  // listed pod's address at a port that is not the configured one.
  recorders.push(
    await startRecorder('127.0.0.4', agentPort),
    await startRecorder('127.0.0.5', agentPort),
    await startRecorder('127.0.0.2', otherPort),
  );
  await Promise.all([
    startCollector(dir, 'agent-a', [`endpoint: 127.0.0.2:${String(agentPort)}`]),
    startCollector(dir, 'agent-b', [`endpoint: 127.0.0.3:${String(agentPort)}`]),
    startCollector(dir, 'gateway', [
      `endpoint: 127.0.0.1:${String(gatewayPort)}`,
      'proxy_discovery:',
      '  kubernetes:',
      '    namespace: monitoring',
      `    label_selector: "${SELECTOR}"`,
      `    port: ${String(agentPort)}`,
      '    auth_type: kubeconfig',
      `    kubeconfig: ${kubeconfig}`,
    ]),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => {
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  for (const r of recorders) r.server.close();
  if (api !== undefined) {
    api.server.closeAllConnections();
    api.server.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('proxy_discovery.kubernetes', () => {
  it('reaches the Running pods the selector matches, refuses the rest, and drops a deleted pod', async () => {
    if (api === undefined) throw new Error('not started');
    const via = (target: string, path: string, method = 'GET') =>
      call(gatewayPort, method, `/proxy/${target}${path}`);
    const a = `127.0.0.2:${String(agentPort)}`;
    const b = `127.0.0.3:${String(agentPort)}`;
    // The first LIST may come a little after the gateway serves.
    await poll('agent a reachable through the gateway', 30_000, async () =>
      (await via(a, '/ping')).status === 200 ? true : undefined,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the gateway printed:\n${outputs.get('gateway')?.() ?? ''}`);
    });
    expect(await via(b, '/ping')).toEqual({ status: 200, json: { ok: true } });
    expect(await via(`${POD_A}:${String(agentPort)}`, '/ping')).toEqual({ status: 200, json: { ok: true } });

    // Each target is the collector it names: an experiment started through the gateway on
    // pod a (by name) is on agent a only.
    expect(
      (await via(`${POD_A}:${String(agentPort)}`, '/experiments/via-gateway/start', 'POST')).status,
    ).toBe(201);
    expect((await call(agentPort, 'GET', '/experiments/via-gateway', '127.0.0.2')).status).toBe(200);
    expect((await call(agentPort, 'GET', '/experiments/via-gateway', '127.0.0.3')).status).toBe(404);
    expect((await via(a, '/experiments/via-gateway/stop', 'POST')).status).toBe(200);

    // Refused, and nothing sent: a Pending pod (by IP and by name), a pod outside the
    // selector, a listed pod at another port, and an address no pod has.
    for (const target of [
      `127.0.0.4:${String(agentPort)}`,
      `${POD_PENDING}:${String(agentPort)}`,
      `127.0.0.5:${String(agentPort)}`,
      `lab-tools-h8n3v:${String(agentPort)}`,
      `127.0.0.2:${String(otherPort)}`,
      `127.0.0.9:${String(agentPort)}`,
    ]) {
      const refused = await via(target, '/ping');
      expect(refused.status, target).toBe(403);
      expect(JSON.stringify(refused.json)).toContain('nor a discovered pod: not forwarded');
    }
    for (const r of recorders) expect(r.received).toEqual([]);

    // The watch reports pod b deleted: it is refused from then on, by IP and by name.
    await poll('the gateway watching', 30_000, () => Promise.resolve(api?.watches.size ? true : undefined));
    api.deletePod(POD_B);
    await poll('pod b refused after its deletion', 30_000, async () =>
      (await via(b, '/ping')).status === 403 ? true : undefined,
    );
    expect((await via(`${POD_B}:${String(agentPort)}`, '/ping')).status).toBe(403);
    expect((await via(a, '/ping')).status).toBe(200);
    for (const r of recorders) expect(r.received).toEqual([]);

    // The gateway asked for the namespace's pods by the selector, with its credentials.
    const lists = api.requests.filter((r) => r.query.get('watch') !== 'true');
    expect(lists.length).toBeGreaterThan(0);
    for (const r of api.requests) {
      expect(r.path).toBe('/api/v1/namespaces/monitoring/pods');
      expect(r.query.get('labelSelector')).toBe(SELECTOR);
      expect(r.authorization).toBe('Bearer gateway-sa-token');
    }
    expect(api.requests.find((r) => r.query.get('watch') === 'true')?.query.get('resourceVersion')).toBe(
      '73150',
    );
  }, 120_000);

  it('a bad proxy_discovery fails at start naming its YAML path', () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(
      config,
      [
        'receivers: { procfs: {} }',
        'exporters: { csv: { path: /dev/null } }',
        'extensions:',
        '  experiments:',
        '    bearer_token: x',
        '    proxy_discovery: { kubernetes: { namespace: monitoring, label_selector: "", auth_type: kubeconfig } }',
        'service:',
        '  extensions: [experiments]',
        '  pipelines: { metrics: { receivers: [procfs], exporters: [csv] } }',
        '',
      ].join('\n'),
    );
    const result = spawnSync(process.execPath, [MAIN, 'validate', '--config', config], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('extensions.experiments.proxy_discovery.kubernetes.label_selector');
    expect(result.stderr).toContain('extensions.experiments.proxy_discovery.kubernetes.kubeconfig');
  });
});
