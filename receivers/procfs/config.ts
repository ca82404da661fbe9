import { z } from 'zod';
import { anchoredRegex, scraperOptions } from '../../kit/config-types.ts';

/** Partitions, loop and RAM devices: their I/O is already counted on the whole disk. */
export const DEFAULT_DISK_EXCLUDE =
  '(ram|loop|fd|zram)\\d+|(h|s|v|xv)d[a-z]+\\d+|nvme\\d+n\\d+p\\d+|mmcblk\\d+p\\d+';

/** Virtual filesystems with no storage behind them (node_exporter's list, cgroup and tracing included). */
export const DEFAULT_FS_TYPES_EXCLUDE =
  'autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs';

/** Mount points of the kernel's own trees and container runtimes' internals. */
export const DEFAULT_MOUNTPOINTS_EXCLUDE =
  '/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)(/.*)?';

const group = z.strictObject({ enabled: z.boolean().default(true) });
const filtered = (exclude: string | undefined) =>
  z.strictObject({
    enabled: z.boolean().default(true),
    /** Only these names (anchored regexes); empty: all. */
    include: z.array(anchoredRegex()).default([]),
    /** Never these names (anchored regexes). */
    exclude: z.array(anchoredRegex()).default(exclude === undefined ? [] : [new RegExp(`^(?:${exclude})$`)]),
  });

/** Configuration of the procfs receiver. */
export const procfsConfigSchema = z.strictObject({
  /** Where the host's / is mounted: /proc is read at `${root_path}/proc`. */
  root_path: z.string().min(1).default('/'),
  ...scraperOptions,
  metrics: z
    .strictObject({
      cpu: group.prefault({}),
      processes: group.prefault({}),
      load: group.prefault({}),
      uptime: group.prefault({}),
      memory: group.prefault({}),
      paging: group.prefault({}),
      disk: filtered(DEFAULT_DISK_EXCLUDE).prefault({}),
      network: filtered(undefined).prefault({}),
      filesystem: z
        .strictObject({
          enabled: z.boolean().default(true),
          include_mountpoints: z.array(anchoredRegex()).default([]),
          exclude_mountpoints: z
            .array(anchoredRegex())
            .default([new RegExp(`^(?:${DEFAULT_MOUNTPOINTS_EXCLUDE})$`)]),
          include_types: z.array(anchoredRegex()).default([]),
          exclude_types: z.array(anchoredRegex()).default([new RegExp(`^(?:${DEFAULT_FS_TYPES_EXCLUDE})$`)]),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type ProcfsConfig = z.output<typeof procfsConfigSchema>;

/** True when `name` passes an include/exclude pair (include empty: everything). */
export function selected(name: string, include: readonly RegExp[], exclude: readonly RegExp[]): boolean {
  if (include.length > 0 && !include.some((r) => r.test(name))) return false;
  return !exclude.some((r) => r.test(name));
}
