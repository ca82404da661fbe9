import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { VirtualMachineInstance } from './parse/vmi.ts';
import { launcherOwnerUid, toVmTargets } from './parse/vmi.ts';

const fixtures = join(import.meta.dirname, 'testdata/fixtures/kubernetes');
const list = <T>(name: string): T[] =>
  (JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as { items: T[] }).items;
const vmis = list<VirtualMachineInstance>('vmi-list-1.json');
const pods = list<V1Pod>('pod-list-1.json');
const FEDORA_VMI = '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f';

const clone = <T>(value: T): T => structuredClone(value);

describe('toVmTargets', () => {
  it('joins the recorded VMIs and launcher pods, skipping the finished pod', () => {
    expect(toVmTargets(vmis, pods, 'node-1').map((t) => [t.vmiName, t.vmName, t.launcherPod?.name])).toEqual([
      ['cirros-scratch', undefined, undefined],
      ['fedora-db', 'fedora-db', 'virt-launcher-fedora-db-x7k2p'],
    ]);
  });

  it('leaves out VMIs whose status names another node, and pods of another node', () => {
    const moved = vmis.map((v) => clone(v));
    const status = (moved[1]?.status ?? {}) as { nodeName?: string };
    status.nodeName = 'node-2';
    expect(toVmTargets(moved, pods, 'node-1').map((t) => t.vmiName)).toEqual(['cirros-scratch']);
    expect(toVmTargets(vmis, pods, 'node-2')).toEqual([]);
    const elsewhere = pods.map((p) => clone(p));
    for (const p of elsewhere) if (p.spec !== undefined) p.spec.nodeName = 'node-2';
    expect(toVmTargets(vmis, elsewhere, 'node-1').every((t) => t.launcherPod === undefined)).toBe(true);
  });

  it('prefers the pod the VMI lists as active, then a running one, then the newest', () => {
    const [current, finished] = pods.map((p) => clone(p));
    if (current === undefined || finished === undefined) throw new Error('fixture has two pods');
    // Two live pods of one VMI (a migration onto the same node): the active one wins.
    if (finished.status !== undefined) finished.status.phase = 'Running';
    expect(toVmTargets(vmis, [finished, current], 'node-1')[1]?.launcherPod?.name).toBe(
      'virt-launcher-fedora-db-x7k2p',
    );
    const noActive = vmis.map((v) => clone(v));
    const status = (noActive[1]?.status ?? {}) as { activePods?: Record<string, string> };
    delete status.activePods;
    // Both running, none listed: the newest.
    expect(toVmTargets(noActive, [current, finished], 'node-1')[1]?.launcherPod?.name).toBe(
      'virt-launcher-fedora-db-x7k2p',
    );
    if (current.status !== undefined) current.status.phase = 'Pending';
    expect(toVmTargets(noActive, [current, finished], 'node-1')[1]?.launcherPod?.name).toBe(
      'virt-launcher-fedora-db-q9w8e',
    );
  });

  it('finds the owner by reference, else by the created-by label', () => {
    const pod = clone(pods[0]);
    expect(pod === undefined ? undefined : launcherOwnerUid(pod)).toBe(FEDORA_VMI);
    if (pod?.metadata !== undefined) {
      delete pod.metadata.ownerReferences;
      expect(launcherOwnerUid(pod)).toBe(FEDORA_VMI);
      delete pod.metadata.labels;
      expect(launcherOwnerUid(pod)).toBeUndefined();
    }
  });

  it('skips objects without uid or name, and reports a VMI without phase as Unknown', () => {
    // As the API serves them: plain JSON.
    const [nameless, bare] = JSON.parse(
      '[{"metadata":{"name":"x"}},{"metadata":{"name":"new","namespace":"vms","uid":"u-1","labels":{"kubevirt.io/nodeName":"node-1"}}}]',
    ) as VirtualMachineInstance[];
    if (nameless === undefined || bare === undefined) throw new Error('two objects');
    expect(toVmTargets([nameless, bare], [], 'node-1')).toEqual([
      { namespace: 'vms', vmiName: 'new', vmiUid: 'u-1', nodeName: 'node-1', phase: 'Unknown' },
    ]);
  });
});
