import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { httpStatus } from '../../kit/kubernetes-watch.ts';
import type { RecordedApi } from '../../test/support/kubernetes-api.ts';
import { startRecordedApi, statusBody } from '../../test/support/kubernetes-api.ts';
import { waitUntil } from '../../test/support/wait.ts';
import type { DiscoveryResource, VmDiscovery, VmTarget } from './discovery.ts';
import { createVmDiscovery } from './discovery.ts';

/**
 * VM discovery against a recorded API server on loopback serving recorded-shape
 * `VirtualMachineInstanceList`/`PodList` objects and watch streams (ADDED, MODIFIED, DELETED,
 * a stream that breaks, `410 Gone`), with a 401 and a 403 before the first good answers.
 */

const fixtures = join(import.meta.dirname, 'testdata/fixtures/kubernetes');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');
const lines = (name: string): string[] => fixture(name).trim().split('\n');

const VMIS = '/apis/kubevirt.io/v1/virtualmachineinstances';
const PODS = '/api/v1/pods';
const FEDORA_VMI = '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f';
const FEDORA_POD = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const CIRROS_VMI = '1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6';
const WIN_VMI = '7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2918';
const WIN_POD = 'e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a81';
const CONTAINERS = ['compute', 'volumerootdisk', 'guest-console-log'];

const apis: RecordedApi[] = [];
const discoveries: VmDiscovery[] = [];

afterEach(async () => {
  for (const discovery of discoveries.splice(0)) await discovery.stop();
  for (const api of apis.splice(0)) await api.close();
});

const byName = (targets: readonly VmTarget[]): Map<string, VmTarget> =>
  new Map(targets.map((t) => [`${t.namespace}/${t.vmiName}`, t]));

describe('kubevirt VM discovery', () => {
  it('joins VMIs and launcher pods, follows the watches through 401/403, a broken stream and 410 Gone', async () => {
    const api = await startRecordedApi({
      [VMIS]: {
        list: [
          { status: 401, body: statusBody(401, 'Unauthorized', 'Unauthorized') },
          { status: 200, body: fixture('vmi-list-1.json') },
          { status: 200, body: fixture('vmi-list-2.json') },
        ],
        watch: [
          { events: lines('vmi-watch-1.jsonl'), then: 'drop', intervalMs: 150 },
          { events: lines('vmi-watch-2.jsonl'), then: 'end', intervalMs: 150 },
          { events: [], then: 'hold' },
        ],
      },
      [PODS]: {
        list: [
          {
            status: 403,
            body: statusBody(
              403,
              'Forbidden',
              'pods is forbidden: User "system:serviceaccount:monitoring:inframeter" cannot list resource "pods" in API group "" at the cluster scope',
            ),
          },
          { status: 200, body: fixture('pod-list-1.json') },
        ],
        watch: [{ events: lines('pod-watch-1.jsonl'), then: 'hold', intervalMs: 100 }],
      },
    });
    apis.push(api);
    const errors: { status: number | undefined; resource: DiscoveryResource; message: string }[] = [];
    const recovered: DiscoveryResource[] = [];
    const discovery = createVmDiscovery({
      kubeConfig: api.kubeConfig,
      nodeName: 'node-1',
      onError: (error, resource) =>
        errors.push({ status: httpStatus(error), resource, message: String(error) }),
      onRecovered: (resource) => recovered.push(resource),
      retryDelayMs: 20,
    });
    discoveries.push(discovery);
    expect(discovery.targets()).toEqual([]);
    discovery.start();
    discovery.start();

    // First lists (after the 401 and 403): fedora-db with its running pod, not the finished
    // one; cirros-scratch has no launcher pod on this node.
    await waitUntil(
      () => byName(discovery.targets()).get('vms/fedora-db')?.launcherPod !== undefined,
      'the first lists',
    );
    const first = byName(discovery.targets());
    expect(first.get('vms/fedora-db')).toEqual({
      namespace: 'vms',
      vmiName: 'fedora-db',
      vmiUid: FEDORA_VMI,
      vmName: 'fedora-db',
      nodeName: 'node-1',
      phase: 'Running',
      launcherPod: {
        name: 'virt-launcher-fedora-db-x7k2p',
        uid: FEDORA_POD,
        containers: CONTAINERS,
        phase: 'Running',
        qosClass: 'Burstable',
      },
    });
    expect(first.get('lab/cirros-scratch')).toEqual({
      namespace: 'lab',
      vmiName: 'cirros-scratch',
      vmiUid: CIRROS_VMI,
      nodeName: 'node-1',
      phase: 'Running',
    });

    // The watches: win-app is added (Scheduled, pod Pending), then runs; fedora-db's pod is
    // deleted; the VMI stream breaks, is resumed, ends with 410 Gone, and the relist drops
    // fedora-db.
    await waitUntil(() => {
      const t = byName(discovery.targets());
      return t.get('vms/win-app')?.launcherPod?.phase === 'Running' && !t.has('vms/fedora-db');
    }, 'the relist after 410 Gone');
    await api.waitFor((r) => r.filter((q) => q.path === VMIS && q.watch).length >= 3, 'the third VMI watch');
    expect(discovery.targets()).toEqual([
      {
        namespace: 'lab',
        vmiName: 'cirros-scratch',
        vmiUid: CIRROS_VMI,
        nodeName: 'node-1',
        phase: 'Running',
      },
      {
        namespace: 'vms',
        vmiName: 'win-app',
        vmiUid: WIN_VMI,
        vmName: 'win-app',
        nodeName: 'node-1',
        phase: 'Running',
        launcherPod: {
          name: 'virt-launcher-win-app-m4n5b',
          uid: WIN_POD,
          containers: CONTAINERS,
          phase: 'Running',
          qosClass: 'Burstable',
        },
      },
    ]);

    const vmiRequests = api.requests
      .filter((r) => r.path === VMIS)
      .map((r) => [r.watch ? 'watch' : 'list', r.query.get('labelSelector'), r.query.get('resourceVersion')]);
    expect(vmiRequests).toEqual([
      ['list', 'kubevirt.io/nodeName=node-1', null],
      ['list', 'kubevirt.io/nodeName=node-1', null],
      ['watch', 'kubevirt.io/nodeName=node-1', '88140'],
      // Resumed after the broken stream from the last version seen.
      ['watch', 'kubevirt.io/nodeName=node-1', '88231'],
      // 410 Gone: listed again, then watched from the new list's version.
      ['list', 'kubevirt.io/nodeName=node-1', null],
      ['watch', 'kubevirt.io/nodeName=node-1', '88240'],
    ]);
    const podRequests = api.requests
      .filter((r) => r.path === PODS)
      .map((r) => [r.watch ? 'watch' : 'list', r.query.get('labelSelector'), r.query.get('fieldSelector')]);
    expect(podRequests).toEqual([
      ['list', 'kubevirt.io=virt-launcher', 'spec.nodeName=node-1'],
      ['list', 'kubevirt.io=virt-launcher', 'spec.nodeName=node-1'],
      ['watch', 'kubevirt.io=virt-launcher', 'spec.nodeName=node-1'],
    ]);
    expect(new Set(api.requests.map((r) => r.authorization))).toEqual(new Set(['Bearer recorded-token']));

    expect(errors.map((e) => [e.resource, e.status])).toEqual(
      expect.arrayContaining([
        ['virtualmachineinstances', 401],
        ['pods', 403],
        ['virtualmachineinstances', undefined],
      ]),
    );
    expect(errors).toHaveLength(3);
    // Each failure ended with the source answering again: after the 401, the 403 and the cut stream.
    expect(recovered.sort()).toEqual(['pods', 'virtualmachineinstances', 'virtualmachineinstances']);
  });

  it('watches each listed namespace on its own paths', async () => {
    const empty = (kind: string, apiVersion: string): string =>
      JSON.stringify({ apiVersion, kind, metadata: { resourceVersion: '500' }, items: [] });
    const hold = { events: [], then: 'hold' } as const;
    const api = await startRecordedApi({
      '/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances': {
        list: [{ status: 200, body: fixture('vmi-list-1.json') }],
        watch: [hold],
      },
      '/apis/kubevirt.io/v1/namespaces/lab/virtualmachineinstances': {
        list: [{ status: 200, body: empty('VirtualMachineInstanceList', 'kubevirt.io/v1') }],
        watch: [hold],
      },
      '/api/v1/namespaces/vms/pods': {
        list: [{ status: 200, body: fixture('pod-list-1.json') }],
        watch: [hold],
      },
      '/api/v1/namespaces/lab/pods': {
        list: [{ status: 200, body: empty('PodList', 'v1') }],
        watch: [hold],
      },
    });
    apis.push(api);
    const errors: unknown[] = [];
    const discovery = createVmDiscovery({
      kubeConfig: api.kubeConfig,
      nodeName: 'node-1',
      namespaces: ['vms', 'lab'],
      onError: (e) => errors.push(e),
    });
    discoveries.push(discovery);
    discovery.start();
    await api.waitFor((r) => r.filter((q) => q.watch).length === 4, 'four watches');
    await waitUntil(() => discovery.targets().length === 2, 'the lists');
    // The recorded vms list holds a VMI of another namespace too: what the API answers is kept.
    expect(discovery.targets().map((t) => [t.namespace, t.vmiName, t.launcherPod?.name])).toEqual([
      ['lab', 'cirros-scratch', undefined],
      ['vms', 'fedora-db', 'virt-launcher-fedora-db-x7k2p'],
    ]);
    expect(new Set(api.requests.map((r) => r.path))).toEqual(
      new Set([
        '/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances',
        '/apis/kubevirt.io/v1/namespaces/lab/virtualmachineinstances',
        '/api/v1/namespaces/vms/pods',
        '/api/v1/namespaces/lab/pods',
      ]),
    );
    expect(errors).toEqual([]);
    const version = discovery.version;
    await discovery.stop();
    await discovery.stop();
    expect(discovery.version).toBe(version);
  });

  it('stops without start, twice, and opens no watch after a stop during a list', async () => {
    const api = await startRecordedApi({
      [VMIS]: { list: [{ status: 200, body: fixture('vmi-list-1.json'), delayMs: 200 }], watch: [] },
      [PODS]: { list: [{ status: 200, body: fixture('pod-list-1.json'), delayMs: 200 }], watch: [] },
    });
    apis.push(api);
    const errors: unknown[] = [];
    const idle = createVmDiscovery({
      kubeConfig: api.kubeConfig,
      nodeName: 'node-1',
      onError: (e) => errors.push(e),
    });
    await idle.stop();
    await idle.stop();
    const discovery = createVmDiscovery({
      kubeConfig: api.kubeConfig,
      nodeName: 'node-1',
      onError: (e) => errors.push(e),
    });
    discovery.start();
    await api.waitFor((r) => r.length === 2, 'both lists');
    await discovery.stop();
    // The lists are answered after the stop: both caches fill, and each source reaches the
    // point where it would open its watch (synchronously after filling its cache).
    await waitUntil(
      () => discovery.targets().some((t) => t.launcherPod !== undefined),
      'the lists answered after the stop',
    );
    // A request sent through the same client stack afterwards: once the API has answered it,
    // a watch opened after the stop would have reached the API first.
    const after = '/api/v1/namespaces/after-stop/pods';
    await api.kubeConfig
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'after-stop' })
      .catch(() => undefined);
    expect(api.requests.map((r) => r.path)).toContain(after);
    expect(api.requests.filter((r) => r.watch)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('reports an API that refuses connections and keeps retrying', async () => {
    const api = await startRecordedApi({});
    const kubeConfig = api.kubeConfig;
    await api.close();
    const errors: DiscoveryResource[] = [];
    const discovery = createVmDiscovery({
      kubeConfig,
      nodeName: 'node-1',
      onError: (_e, resource) => errors.push(resource),
      retryDelayMs: 10,
    });
    discoveries.push(discovery);
    discovery.start();
    await waitUntil(
      () => errors.filter((r) => r === 'virtualmachineinstances').length >= 3,
      'three VMI failures',
    );
    expect(errors).toContain('pods');
    expect(discovery.targets()).toEqual([]);
  });
});
