import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricSink } from '../kit/component.ts';
import { configSchema } from '../receivers/cgroups/config.ts';
import { createPodWatcher } from '../receivers/cgroups/kubernetes-client.ts';
import { waitUntil } from '../test/support/wait.ts';
import type { PodMetadataSource } from '../receivers/cgroups/kubernetes-client.ts';
import { createCgroupsReceiver } from '../receivers/cgroups/factory.ts';
import { CgroupsScraper } from '../receivers/cgroups/scraper.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * The pod enrichment against an API server on loopback that serves recorded-shape Pod JSON:
 * a PodList, then a watch stream that modifies a pod and, when the test says, ends with
 * `410 Gone`, then a second PodList (one pod deleted, one added), then a watch that stays open.
 */

const testdata = join(import.meta.dirname, '../receivers/cgroups/testdata');
const fixture = (name: string): string => readFileSync(join(testdata, 'fixtures/kubernetes', name), 'utf8');
const UID_A = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const UID_G = '3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7';
const UID_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const APP = '7c9e0b5d4f3a2e1d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e11';
const CRIO = 'b21e8f4c6d3a5e7f9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a';

interface ApiServer {
  readonly server: Server;
  readonly kubeConfig: KubeConfig;
  /** Every request: `list` or `watch`, its query. */
  readonly requests: { kind: 'list' | 'watch'; query: URLSearchParams }[];
  /** Resolves once the second watch (after the relist) is open. */
  readonly rewatched: Promise<void>;
  /** Ends the first watch with its `410 Gone`: until then the first list is what the client has. */
  expire(): void;
}

const servers: Server[] = [];
const watchers: PodMetadataSource[] = [];

afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function startApiServer(): Promise<ApiServer> {
  const requests: ApiServer['requests'] = [];
  let lists = 0;
  let watches = 0;
  let rewatchedResolve: () => void = () => undefined;
  let expire: () => void = () => undefined;
  const expired = new Promise<void>((resolve) => {
    expire = resolve;
  });
  const rewatched = new Promise<void>((resolve) => {
    rewatchedResolve = resolve;
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/v1/pods') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      watches += 1;
      requests.push({ kind: 'watch', query: url.searchParams });
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      if (watches === 1) {
        const [modified, gone] = fixture('watch-1.jsonl').split('\n');
        res.write(`${modified ?? ''}\n`);
        void expired.then(() => {
          res.end(`${gone ?? ''}\n`);
        });
      } else {
        rewatchedResolve();
      }
      return;
    }
    lists += 1;
    requests.push({ kind: 'list', query: url.searchParams });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(fixture(lists === 1 ? 'podlist-1.json' : 'podlist-2.json'));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'agent', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'agent' }],
    currentContext: 'test',
  });
  return { server, kubeConfig, requests, rewatched, expire };
}

describe('cgroups Kubernetes enrichment', () => {
  it('lists this node’s pods, follows the watch, and lists again after 410 Gone', async () => {
    const api = await startApiServer();
    const errors: unknown[] = [];
    const pods = createPodWatcher({
      kubeConfig: api.kubeConfig,
      nodeName: 'node-1',
      onError: (e) => errors.push(e),
    });
    watchers.push(pods);
    pods.start();
    await waitUntil(() => pods.get(UID_A) !== undefined, 'the first list');
    expect(pods.get(UID_A)).toEqual({
      uid: UID_A,
      name: 'web-7d9f8b6c5-x2x8q',
      namespace: 'shop',
      qosClass: 'Burstable',
      containers: new Map([[APP, { name: 'web', runtime: 'containerd' }]]),
    });
    expect(pods.get(UID_G)?.containers.get(CRIO)).toEqual({ name: 'db', runtime: 'cri-o' });

    // Scrapes read the cache as it is, without waiting for the API.
    const scraper = new CgroupsScraper(
      configSchema.parse({ root_path: join(testdata, 'fixtures/v2-systemd'), kinds: ['container'] }),
      { pods },
    );
    await scraper.scrape(new AbortController().signal);
    const byId = new Map(scraper.snapshot().cgroups.map((c) => [c.attributes['container.id'], c.attributes]));
    expect(byId.get(APP)).toMatchObject({
      'k8s.pod.name': 'web-7d9f8b6c5-x2x8q',
      'k8s.namespace.name': 'shop',
      'k8s.container.name': 'web',
    });
    expect(byId.get(CRIO)).toMatchObject({
      'k8s.pod.name': 'db-0',
      'k8s.container.name': 'db',
      'container.runtime.name': 'cri-o',
    });

    // The watch ends with 410 Gone only now: however long the scrape above took, it saw the first list.
    api.expire();
    await api.rewatched;
    await waitUntil(() => pods.get(UID_B) !== undefined, 'the relist');
    expect(pods.get(UID_G)).toBeUndefined();
    expect(
      api.requests.map((r) => [r.kind, r.query.get('fieldSelector'), r.query.get('resourceVersion')]),
    ).toEqual([
      ['list', 'spec.nodeName=node-1', null],
      ['watch', 'spec.nodeName=node-1', '48213'],
      ['list', 'spec.nodeName=node-1', null],
      ['watch', 'spec.nodeName=node-1', '48790'],
    ]);
    expect(errors).toEqual([]);

    await scraper.scrape(new AbortController().signal);
    const after = new Map(
      scraper.snapshot().cgroups.map((c) => [c.attributes['container.id'], c.attributes]),
    );
    expect(after.get(CRIO)).not.toHaveProperty('k8s.pod.name');
    expect(after.get(APP)).toMatchObject({ 'k8s.pod.name': 'web-7d9f8b6c5-x2x8q' });
  });

  it('reports an unreachable API and retries', async () => {
    const api = await startApiServer();
    const { port } = api.server.address() as AddressInfo;
    api.server.closeAllConnections();
    await new Promise((resolve) => api.server.close(resolve));
    servers.splice(servers.indexOf(api.server), 1);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'gone', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'agent' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'agent' }],
      currentContext: 'gone',
    });
    const errors: unknown[] = [];
    const pods = createPodWatcher({
      kubeConfig,
      nodeName: 'node-1',
      onError: (e) => errors.push(e),
      retryDelayMs: 20,
    });
    watchers.push(pods);
    pods.start();
    await waitUntil(() => errors.length >= 3, 'three failures');
    expect(String(errors[0])).toMatch(/ECONNREFUSED|fetch failed|connect/i);
  });

  it('wires the enrichment into the receiver', async () => {
    const api = await startApiServer();
    const config = configSchema.parse({
      root_path: join(testdata, 'fixtures/v2-systemd'),
      collection_interval: '50ms',
      kubernetes: { enabled: true, node_name: 'node-1' },
    });
    const receiver = createCgroupsReceiver(createTestSettings('cgroups', 'receiver'), config, {
      kubeConfig: api.kubeConfig,
    });
    const batches: ResourceMetrics[] = [];
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    await receiver.start(sink);
    const named = (): boolean =>
      batches.some((b) =>
        b.scopeMetrics.some((s) =>
          s.metrics.some((m) => m.dataPoints.some((p) => p.attributes['k8s.container.name'] === 'web')),
        ),
      );
    try {
      await waitUntil(named, 'a batch with k8s.container.name');
    } finally {
      await receiver.shutdown();
    }
    expect(api.requests[0]?.query.get('fieldSelector')).toBe('spec.nodeName=node-1');
  });
});
