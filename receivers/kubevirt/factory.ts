import type { ReceiverFactory } from '../../kit/component.ts';
import type { Config } from './config.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';
import { createKubevirtReceiver } from './receiver.ts';

/** The `kubevirt` receiver: the KubeVirt VMs of this node, their QEMU process, launcher pod cgroup and libvirt domain. */
export const kubevirtFactory: ReceiverFactory<Config> = {
  kind: 'receiver',
  type: metadata.type,
  stability: metadata.stability,
  description:
    "KubeVirt VMs of this node (VirtualMachineInstance and virt-launcher pod watches): the QEMU process's CPU and RSS, the launcher pod's cgroup memory, and domain statistics through the launcher's libvirt daemon",
  configSchema,
  create: (settings, config) => createKubevirtReceiver(settings, config),
};
