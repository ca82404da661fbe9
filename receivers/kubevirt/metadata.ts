import type { MetricMetadata, ReceiverMetadata } from '../../kit/metadata.ts';
import { libvirtMetadata } from '../libvirt/index.ts';

/**
 * Attributes naming the VM every point belongs to. `k8s.pod.*` are present when the VMI has a
 * launcher pod on the node, `kubevirt.vm.name` when a `VirtualMachine` owns the VMI.
 */
export const VM_ATTRIBUTES = [
  'k8s.namespace.name',
  'k8s.node.name',
  'kubevirt.vmi.name',
  'kubevirt.vmi.uid',
  'kubevirt.vm.name',
  'k8s.pod.name',
  'k8s.pod.uid',
] as const;

const PROCESS = ['process.pid', 'process.executable.name'];

function metric(
  group: string,
  name: string,
  instrument: MetricMetadata['instrument'],
  unit: string,
  description: string,
  attributes: readonly string[] = [],
  vm = true,
): MetricMetadata {
  return {
    group,
    name,
    instrument,
    unit,
    description,
    attributes: vm ? [...VM_ATTRIBUTES, ...attributes] : [...attributes],
    enabled: true,
  };
}

/** The libvirt receiver's domain metrics, published for each VM reached through its launcher's daemon. */
const LIBVIRT_DOMAIN = libvirtMetadata.metrics
  .filter((m) => m.name.startsWith('inframeter.libvirt.domain.'))
  .map((m) => ({ ...m, group: 'libvirt', attributes: [...VM_ATTRIBUTES, ...m.attributes] }));

/** Every metric of the kubevirt receiver. */
export const metadata: ReceiverMetadata = {
  type: 'kubevirt',
  stability: 'alpha',
  metrics: [
    metric(
      'vm',
      'inframeter.kubevirt.vm.phase',
      'updowncounter',
      '1',
      "1 for each VM on the node, with the VMI's `status.phase` as attribute.",
      ['kubevirt.vmi.phase'],
    ),
    metric(
      'process',
      'process.cpu.time',
      'counter',
      's',
      "CPU time of the VM's QEMU process (`/proc/<pid>/stat` utime, stime).",
      [...PROCESS, 'cpu.mode'],
    ),
    metric(
      'process',
      'process.memory.usage',
      'updowncounter',
      'By',
      "Resident set size of the VM's QEMU process (`/proc/<pid>/statm` resident × page size): guest memory touched plus QEMU's own.",
      PROCESS,
    ),
    metric(
      'process',
      'process.memory.virtual',
      'updowncounter',
      'By',
      'Virtual memory size of the QEMU process (`/proc/<pid>/stat` vsize).',
      PROCESS,
    ),
    metric(
      'process',
      'process.thread.count',
      'updowncounter',
      '{thread}',
      'Threads of the QEMU process (one per vCPU, plus I/O and main threads).',
      PROCESS,
    ),
    metric(
      'process',
      'process.paging.faults',
      'counter',
      '{fault}',
      'Page faults of the QEMU process: `minor` and `major` (`/proc/<pid>/stat` minflt, majflt).',
      [...PROCESS, 'system.paging.fault.type'],
    ),
    metric(
      'pod',
      'k8s.pod.cpu.time',
      'counter',
      's',
      "CPU time of the launcher pod's cgroup (QEMU, virt-launcher, virtqemud, virtlogd): `cpu.stat` usage_usec on v2, `cpuacct.usage` on v1.",
    ),
    metric(
      'pod',
      'k8s.pod.memory.usage',
      'updowncounter',
      'By',
      "Memory charged to the launcher pod's cgroup, page cache included (`memory.current`, v1 `memory.usage_in_bytes`).",
    ),
    metric(
      'pod',
      'k8s.pod.memory.working_set',
      'updowncounter',
      'By',
      'Usage minus inactive file pages, as the kubelet computes it for evictions.',
    ),
    metric(
      'pod',
      'k8s.pod.memory.rss',
      'updowncounter',
      'By',
      'Anonymous memory of the pod cgroup (`memory.stat` anon, v1 rss): guest RAM in use for a VM.',
    ),
    metric(
      'pod',
      'k8s.pod.memory.available',
      'updowncounter',
      'By',
      'Limit minus working set, when the pod cgroup has a limit.',
    ),
    metric(
      'pod',
      'inframeter.kubevirt.pod.memory.limit',
      'updowncounter',
      'By',
      'Memory limit of the pod cgroup (`memory.max`, v1 `memory.limit_in_bytes`), absent when unlimited.',
    ),
    ...LIBVIRT_DOMAIN,
    metric(
      'self',
      'inframeter.kubevirt.vm.count',
      'updowncounter',
      '{vm}',
      'VMs on the node by what could be read: `monitored` (QEMU process found), `no_launcher_pod`, `no_qemu_process`.',
      ['inframeter.kubevirt.vm.status'],
      false,
    ),
    metric(
      'self',
      'inframeter.kubevirt.libvirt.count',
      'updowncounter',
      '{vm}',
      "VMs by the state of their launcher's libvirt daemon: `reachable`, `unreachable` (no socket, refused, no permission, retrying).",
      ['inframeter.kubevirt.libvirt.status'],
      false,
    ),
    metric(
      'self',
      'inframeter.kubevirt.discovery.errors',
      'counter',
      '{error}',
      'Failed lists and watches of the Kubernetes API (each is retried with backoff), by resource and `error.type` (the HTTP status, or `connection`).',
      ['inframeter.kubevirt.resource', 'error.type'],
      false,
    ),
  ],
  attributes: {
    'k8s.namespace.name': "The VMI's namespace.",
    'k8s.node.name': 'The node the VM runs on (`node_name`).',
    'kubevirt.vmi.name': 'Name of the `VirtualMachineInstance`.',
    'kubevirt.vmi.uid': 'UID of the `VirtualMachineInstance`.',
    'kubevirt.vm.name': 'Name of the owning `VirtualMachine` (ownerReferences), absent for a bare VMI.',
    'k8s.pod.name': 'The `virt-launcher` pod.',
    'k8s.pod.uid': 'UID of the `virt-launcher` pod.',
    'kubevirt.vmi.phase':
      '`Pending`, `Scheduling`, `Scheduled`, `Running`, `Succeeded`, `Failed` or `Unknown`.',
    'process.pid': 'PID of the QEMU process in the host PID namespace.',
    'process.executable.name': 'Command name of the QEMU process (`qemu-kvm`, `qemu-system-x86`).',
    'cpu.mode': '`user` or `system`; `total`, `user`, `system` for libvirt domain CPU time.',
    'system.paging.fault.type': '`minor` or `major`.',
    ...libvirtMetadata.attributes,
    'inframeter.kubevirt.vm.status': '`monitored`, `no_launcher_pod` or `no_qemu_process`.',
    'inframeter.kubevirt.libvirt.status': '`reachable` or `unreachable`.',
    'inframeter.kubevirt.resource': '`virtualmachineinstances` or `pods`.',
    'error.type':
      'HTTP status of the failed request (`401`, `403`, `500`), or `connection` when there was none.',
  },
};
