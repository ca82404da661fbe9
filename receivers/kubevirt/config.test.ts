import { describe, expect, it } from 'vitest';
import { zodProblems } from '../../service/config.ts';
import { configSchema, DEFAULT_SOCKET, DEFAULT_URI, fillTemplate } from './config.ts';
import { metadata } from './metadata.ts';

function problems(raw: unknown): string[] {
  const result = configSchema.safeParse(raw);
  if (result.success) throw new Error('accepted');
  return zodProblems(result.error, ['receivers', 'kubevirt']);
}

describe('kubevirt config', () => {
  it('fills the defaults: 5 s, all namespaces, service account, libvirt on the kubelet pod volume', () => {
    expect(configSchema.parse({ node_name: 'node-1' })).toEqual({
      collection_interval: 5000,
      initial_delay: 0,
      node_name: 'node-1',
      namespaces: [],
      auth_type: 'service_account',
      root_path: '/',
      cgroup_layout: 'auto',
      qemu_commands: ['qemu-kvm', 'qemu-system-'],
      libvirt: {
        enabled: true,
        socket: DEFAULT_SOCKET,
        uri: DEFAULT_URI,
        retry_delay: 5000,
        timeout: 2000,
        max_retry_delay: 60_000,
      },
      metrics: new Set(metadata.metrics.filter((m) => m.enabled).map((m) => m.name)),
    });
  });

  it('names every problem with its path', () => {
    expect(problems({})).toEqual([
      'receivers.kubevirt.node_name: required: the node whose VMs are reported (from the downward API: "${env:K8S_NODE_NAME}")',
    ]);
    expect(
      problems({
        node_name: 'n',
        auth_type: 'kubeconfig',
        root_path: 'host',
        namespce: ['vms'],
        timeout: '10s',
        libvirt: {
          socket: '/run/{pod}/sock',
          uri: 'qemu+unix:///session?socket={socket}&x={vm}',
          max_retry_delay: '1s',
        },
      }),
    ).toEqual([
      'receivers.kubevirt.root_path: must be an absolute path',
      'receivers.kubevirt.libvirt.socket: unknown placeholder {pod}: expected one of {root_path}, {pod_uid}, {namespace}, {vmi_name}, {qemu_pid}',
      'receivers.kubevirt.libvirt.uri: unknown placeholder {vm}: expected one of {root_path}, {pod_uid}, {namespace}, {vmi_name}, {qemu_pid}, {socket}',
      'receivers.kubevirt.namespce: unknown key (a typo? see `inframeter components`)',
      'receivers.kubevirt.timeout: must be shorter than collection_interval',
      'receivers.kubevirt.kubeconfig: required when auth_type is kubeconfig',
      'receivers.kubevirt.libvirt.max_retry_delay: must not be shorter than libvirt.retry_delay',
    ]);
  });

  it('keeps the libvirt wait inside the scrape', () => {
    expect(problems({ node_name: 'n', collection_interval: '2s' })).toEqual([
      "receivers.kubevirt.libvirt.timeout: must be shorter than the scrape's time limit (collection_interval)",
    ]);
    expect(problems({ node_name: 'n', timeout: '1s', libvirt: { timeout: '1s' } })).toEqual([
      "receivers.kubevirt.libvirt.timeout: must be shorter than the scrape's time limit (timeout)",
    ]);
    expect(
      configSchema.parse({ node_name: 'n', collection_interval: '1s', libvirt: { enabled: false } }).libvirt
        .timeout,
    ).toBe(2000);
  });

  it('fills templates', () => {
    const socket = fillTemplate(DEFAULT_SOCKET, { root_path: '/host', pod_uid: 'u-1' });
    expect(socket).toBe(
      '/host/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~empty-dir/libvirt-runtime/virtqemud-sock',
    );
    expect(fillTemplate(DEFAULT_URI, { socket })).toBe(`qemu+unix:///session?socket=${socket}`);
  });
});
