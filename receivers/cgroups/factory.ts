import type { ReceiverFactory } from '../../kit/component.ts';
import type { Config } from './config.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';
import { createCgroupsReceiver } from './receiver.ts';

/** The `cgroups` receiver: CPU, memory, I/O, pids, pressure and network of every container, pod, unit and job cgroup. */
export const cgroupsFactory: ReceiverFactory<Config> = {
  kind: 'receiver',
  type: metadata.type,
  stability: metadata.stability,
  description: 'Containers, pods, systemd units and batch jobs from cgroup v1, v2 and hybrid trees',
  configSchema,
  create: (settings, config) => createCgroupsReceiver(settings, config),
};
