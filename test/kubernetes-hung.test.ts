import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../kit/errors.ts';
import { createObjectWatch } from '../kit/kubernetes-watch.ts';
import type { MisbehavingPeer } from './support/misbehaving-peers.ts';
import { MISBEHAVIOURS, startTcpPeer } from './support/misbehaving-peers.ts';
import { startRecordedApi } from './support/kubernetes-api.ts';
import { poll } from './support/peers.ts';

// The Kubernetes API watch (cgroups' pod enrichment, kubevirt's discovery) against API
// servers that misbehave: each failure is reported (a LIST that gets no answer at its
// deadline), retried with backoff, with at most one LIST in flight per source, and the
// watch stops at once.

const peers: MisbehavingPeer[] = [];
afterAll(async () => {
  for (const p of peers) await p.close();
});

describe('Kubernetes watch against misbehaving API servers', () => {
  for (const kind of MISBEHAVIOURS)
    it(`${kind}: failures reported and retried, one LIST in flight, a quick stop`, async () => {
      const peer = await startTcpPeer(kind);
      peers.push(peer);
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [{ name: 'c', server: `http://${peer.host}:${String(peer.port)}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
        currentContext: 'c',
      });
      const core = kubeConfig.makeApiClient(CoreV1Api);
      const errors: unknown[] = [];
      const watch = createObjectWatch<V1Pod>({
        kubeConfig,
        sources: [{ path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() }],
        onError: (error) => errors.push(error),
        retryDelayMs: 50,
        listDeadlineMs: 500,
      });
      watch.start();
      await poll('three failures reported', 30_000, () =>
        Promise.resolve(errors.length >= 3 ? true : undefined),
      );
      if (kind === 'silent' || kind === 'trickle') {
        // No answer: reported at the deadline, and the retries wait on the same request.
        expect(errors.some((e) => e instanceof TimeoutError)).toBe(true);
        expect(peer.received()).toBe(1);
      }
      expect(peer.open()).toBeLessThanOrEqual(1);
      expect(watch.objects()).toEqual([]);
      const started = Date.now();
      await watch.stop();
      expect(Date.now() - started).toBeLessThan(2000);
    }, 60_000);
});

describe('a watch that stays open and silent', () => {
  it('is closed after 30 s without a byte and resumed from the last version, without a new LIST', async () => {
    const pod = (name: string, version: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'lab', uid: `uid-${name}`, resourceVersion: version },
    });
    const api = await startRecordedApi({
      '/api/v1/pods': {
        list: [
          {
            status: 200,
            body: JSON.stringify({
              apiVersion: 'v1',
              kind: 'PodList',
              metadata: { resourceVersion: '100' },
              items: [pod('first', '100')],
            }),
          },
        ],
        watch: [
          // Open, then nothing at all: what a connection to a vanished API server looks like.
          { events: [], then: 'hold' },
          { events: [JSON.stringify({ type: 'ADDED', object: pod('second', '101') })], then: 'hold' },
        ],
      },
    });
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const errors: unknown[] = [];
    const watch = createObjectWatch<V1Pod>({
      kubeConfig: api.kubeConfig,
      sources: [{ path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() }],
      onError: (error) => errors.push(error),
    });
    const names = () => watch.objects().map((p) => p.metadata?.name);
    try {
      watch.start();
      await poll('the first LIST', 30_000, () =>
        Promise.resolve(names().includes('first') ? true : undefined),
      );
      const opened = Date.now();
      await api.waitFor((requests) => requests.filter((r) => r.watch).length >= 2, 'a second WATCH', 90_000);
      // Not before the idle limit: the silent stream was held open until then.
      expect(Date.now() - opened).toBeGreaterThanOrEqual(29_000);
      await poll('the event of the resumed watch', 30_000, () =>
        Promise.resolve(names().includes('second') ? true : undefined),
      );
      expect(names().sort()).toEqual(['first', 'second']);
      const watches = api.requests.filter((r) => r.watch);
      expect(watches[1]?.query.get('resourceVersion')).toBe('100');
      expect(api.requests.filter((r) => !r.watch)).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      await watch.stop();
      await api.close();
    }
  }, 150_000);
});
