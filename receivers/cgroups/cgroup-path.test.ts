import { describe, expect, it } from 'vitest';
import { parseCgroupPath } from './parse/cgroup-path.ts';
import { globToRegExp } from './glob.ts';

const ID = '3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c';
const UID = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const UID_ = UID.replaceAll('-', '_');

describe('parseCgroupPath', () => {
  it.each([
    ['/', { kind: 'root' }],
    [`/docker/${ID}`, { kind: 'container', containerId: ID, runtime: 'docker' }],
    ['/docker', { kind: 'other' }],
    [
      `/system.slice/docker-${ID}.scope`,
      { kind: 'container', containerId: ID, runtime: 'docker', systemdUnit: 'system.slice' },
    ],
    [
      `/machine.slice/libpod-${ID}.scope`,
      { kind: 'container', containerId: ID, runtime: 'podman', systemdUnit: 'machine.slice' },
    ],
    [
      `/machine.slice/libpod-${ID}.scope/container`,
      { kind: 'other', containerId: ID, runtime: 'podman', systemdUnit: 'machine.slice' },
    ],
    [`/machine.slice/libpod-conmon-${ID}.scope`, { kind: 'scope', systemdUnit: `libpod-conmon-${ID}.scope` }],
    [`/libpod_parent/libpod-${ID}`, { kind: 'container', containerId: ID, runtime: 'podman' }],
    ['/kubepods.slice', { kind: 'kubepods' }],
    ['/kubepods.slice/kubepods-burstable.slice', { kind: 'qos', qosClass: 'Burstable' }],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`,
      { kind: 'pod', podUid: UID, qosClass: 'Burstable' },
    ],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      { kind: 'container', podUid: UID, qosClass: 'Burstable', containerId: ID, runtime: 'containerd' },
    ],
    [
      `/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`,
      { kind: 'container', podUid: UID, qosClass: 'Guaranteed', containerId: ID, runtime: 'cri-o' },
    ],
    [
      `/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`,
      { kind: 'scope', podUid: UID, qosClass: 'Guaranteed', systemdUnit: `crio-conmon-${ID}.scope` },
    ],
    ['/kubepods/besteffort', { kind: 'qos', qosClass: 'BestEffort' }],
    [
      `/kubepods/burstable/pod${UID}/${ID}`,
      { kind: 'container', podUid: UID, qosClass: 'Burstable', containerId: ID },
    ],
    [`/kubepods/pod${UID}`, { kind: 'pod', podUid: UID, qosClass: 'Guaranteed' }],
    [
      `/kubepods/pod${UID}/crio-${ID}`,
      { kind: 'container', podUid: UID, qosClass: 'Guaranteed', containerId: ID, runtime: 'cri-o' },
    ],
    ['/slurm/uid_1000', { kind: 'other', scheduler: 'slurm', jobUser: '1000' }],
    ['/slurm/uid_1000/job_4242', { kind: 'job', scheduler: 'slurm', jobUser: '1000', jobId: '4242' }],
    [
      '/slurm/uid_1000/job_4242/step_batch',
      { kind: 'step', scheduler: 'slurm', jobUser: '1000', jobId: '4242', jobStep: 'batch' },
    ],
    [
      '/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0',
      { kind: 'task', scheduler: 'slurm', jobId: '4242', jobStep: '0', systemdUnit: 'slurmstepd.scope' },
    ],
    [
      '/system.slice/node12_slurmstepd.scope/job_7/step_extern',
      {
        kind: 'step',
        scheduler: 'slurm',
        jobId: '7',
        jobStep: 'extern',
        systemdUnit: 'node12_slurmstepd.scope',
      },
    ],
    ['/oar/alice_31337', { kind: 'job', scheduler: 'oar', jobUser: 'alice', jobId: '31337' }],
    ['/oar/bob_smith_12', { kind: 'job', scheduler: 'oar', jobUser: 'bob_smith', jobId: '12' }],
    ['/system.slice/sshd.service', { kind: 'service', systemdUnit: 'sshd.service' }],
    ['/user.slice/user-1000.slice/session-3.scope', { kind: 'scope', systemdUnit: 'session-3.scope' }],
    ['/process_api/bfaa0ff7d4ed2b3b1ffbfa99a856d1eb', { kind: 'other' }],
    [`/lxc/${ID}`, { kind: 'other' }],
  ])('%s', (path, expected) => {
    expect(parseCgroupPath(path)).toEqual(expected);
  });
});

describe('globToRegExp', () => {
  it.each([
    ['/**', ['/', '/a', '/a/b'], []],
    ['/kubepods.slice/**', ['/kubepods.slice', '/kubepods.slice/x/y'], ['/kubepods.slicex', '/system.slice']],
    [
      '/system.slice/*.service',
      ['/system.slice/sshd.service'],
      ['/system.slice/a/b.service', '/system.slice/sshd.scope'],
    ],
    ['/docker/?*', ['/docker/abc'], ['/docker/', '/docker']],
    ['/**/step_*', ['/slurm/uid_1/job_2/step_0', '/step_x'], ['/slurm/job_2']],
  ])('%s', (glob, matching, other) => {
    const regex = globToRegExp(glob);
    for (const path of matching) expect(regex.test(path), path).toBe(true);
    for (const path of other) expect(regex.test(path), path).toBe(false);
  });
});
