import { z } from 'zod';
import { anchoredRegex, scraperOptions } from '../../kit/config-types.ts';
import {
  enabledMetricNames,
  groupSwitchesSchema,
  groupSwitchSchema,
  metricSwitchesSchema,
  migrateGroupSwitches,
} from '../../kit/metric-switches.ts';
import { PROCFS_GROUPS, procfsMetadata } from './metadata.ts';
import type { ProcfsGroup } from './metadata.ts';

/** Partitions, loop and RAM devices: their I/O is already counted on the whole disk. */
export const DEFAULT_DISK_EXCLUDE =
  '(ram|loop|fd|zram)\\d+|(h|s|v|xv)d[a-z]+\\d+|nvme\\d+n\\d+p\\d+|mmcblk\\d+p\\d+';

/** Virtual filesystems with no storage behind them (node_exporter's list, cgroup and tracing included). */
export const DEFAULT_FS_TYPES_EXCLUDE =
  'autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs';

/** Mount points of the kernel's own trees and container runtimes' internals. */
export const DEFAULT_MOUNTPOINTS_EXCLUDE =
  '/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)(/.*)?';

const filters = (exclude: string | undefined) => ({
  /** Only these names (anchored regexes); empty: all. */
  include: z.array(anchoredRegex()).default([]),
  /** Never these names (anchored regexes). */
  exclude: z.array(anchoredRegex()).default(exclude === undefined ? [] : [new RegExp(`^(?:${exclude})$`)]),
});

/** `groups:` — a switch per group; disk, network and filesystem also say which devices, interfaces and mounts. */
const groupsSchema = groupSwitchesSchema({
  cpu: groupSwitchSchema({}).prefault({}),
  processes: groupSwitchSchema({}).prefault({}),
  load: groupSwitchSchema({}).prefault({}),
  uptime: groupSwitchSchema({}).prefault({}),
  memory: groupSwitchSchema({}).prefault({}),
  paging: groupSwitchSchema({}).prefault({}),
  disk: groupSwitchSchema(filters(DEFAULT_DISK_EXCLUDE)).prefault({}),
  network: groupSwitchSchema(filters(undefined)).prefault({}),
  filesystem: groupSwitchSchema({
    include_mountpoints: z.array(anchoredRegex()).default([]),
    exclude_mountpoints: z
      .array(anchoredRegex())
      .default([new RegExp(`^(?:${DEFAULT_MOUNTPOINTS_EXCLUDE})$`)]),
    include_types: z.array(anchoredRegex()).default([]),
    exclude_types: z.array(anchoredRegex()).default([new RegExp(`^(?:${DEFAULT_FS_TYPES_EXCLUDE})$`)]),
  }).prefault({}),
} satisfies Record<ProcfsGroup, unknown>);

/**
 * Configuration of the procfs receiver. The group switches were once written under
 * `metrics:` (`metrics: { disk: { enabled: false } }`): still read, with a warning, for one
 * release.
 */
export const procfsConfigSchema = z.preprocess(
  (raw, ctx) => migrateGroupSwitches(raw, PROCFS_GROUPS, 'object', ctx),
  z
    .strictObject({
      /** Where the host's / is mounted: /proc is read at `${root_path}/proc`. */
      root_path: z.string().min(1).default('/'),
      ...scraperOptions,
      /** A switch per metric: `system.cpu.time: { enabled: false }`; wins over its group's. */
      metrics: metricSwitchesSchema(procfsMetadata.metrics.map((m) => m.name)),
      groups: groupsSchema,
    })
    .transform(({ metrics, groups, ...rest }) => {
      const enabled = enabledMetricNames(procfsMetadata.metrics, metrics, groups);
      const on = (group: ProcfsGroup) =>
        procfsMetadata.metrics.some((m) => m.group === group && enabled.has(m.name));
      return {
        ...rest,
        /** The metrics to emit. */
        metrics: enabled,
        /** Each group's settings; `enabled`: some metric of the group is emitted (its source is read). */
        groups: {
          cpu: { enabled: on('cpu') },
          processes: { enabled: on('processes') },
          load: { enabled: on('load') },
          uptime: { enabled: on('uptime') },
          memory: { enabled: on('memory') },
          paging: { enabled: on('paging') },
          disk: { ...groups.disk, enabled: on('disk') },
          network: { ...groups.network, enabled: on('network') },
          filesystem: { ...groups.filesystem, enabled: on('filesystem') },
        },
      };
    }),
);

export type ProcfsConfig = z.output<typeof procfsConfigSchema>;

/** True when `name` passes an include/exclude pair (include empty: everything). */
export function selected(name: string, include: readonly RegExp[], exclude: readonly RegExp[]): boolean {
  if (include.length > 0 && !include.some((r) => r.test(name))) return false;
  return !exclude.some((r) => r.test(name));
}
