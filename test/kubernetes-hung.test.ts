import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../kit/errors.ts';
import { createObjectWatch } from '../kit/kubernetes-watch.ts';
import type { MisbehavingPeer } from './support/misbehaving-peers.ts';
import { MISBEHAVIOURS, startTcpPeer } from './support/misbehaving-peers.ts';
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
