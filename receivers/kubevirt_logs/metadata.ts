import type { ReceiverMetadata } from '../../kit/metadata.ts';

/**
 * The kubevirt_logs receiver emits log records, not metrics: its catalogue lists no metric,
 * only the attributes every record carries.
 */
export const kubevirtLogsMetadata: ReceiverMetadata = {
  type: 'kubevirt_logs',
  stability: 'alpha',
  metrics: [],
  attributes: {
    'k8s.namespace.name':
      'Namespace of the pod the line comes from (the VM’s, or `kubevirt` for virt-handler).',
    'k8s.pod.name': 'The virt-launcher or virt-handler pod.',
    'k8s.container.name': 'Its container (`compute`, `volumerootdisk`, `guest-console-log`, `virt-handler`).',
    'k8s.node.name': 'This node (`node_name`).',
    'kubevirt.vmi.namespace':
      'Namespace of the VMI the line is about (virt-handler lines: from the line’s `namespace`/`uid`).',
    'kubevirt.vmi.name': 'The VirtualMachineInstance.',
    'kubevirt.vmi.uid': 'Its UID.',
    'kubevirt.vm.name': 'The owning VirtualMachine, when there is one.',
    'kubevirt.component': 'The line’s `component` (`virt-launcher`, `virt-handler`), JSON lines only.',
    'kubevirt.subcomponent': 'The line’s `subcomponent` (`libvirt`, `qemu`), when present.',
    'kubevirt.log.pos': 'The line’s `pos`: source file and line in KubeVirt (`vm.go:1688`).',
  },
};
