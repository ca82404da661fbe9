import { ParseError } from '../../../kit/errors.ts';

/** The cgroup v1 controllers a v1 mount can carry (mount options that name a controller). */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'misc',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
]);

/** One cgroup or cgroup2 mount. */
export interface CgroupMount {
  /** Where it is mounted, in the mount namespace of the process the table was read from. */
  readonly mountPoint: string;
  readonly version: 1 | 2;
  /** v1: the controllers bound to the hierarchy (`cpu`, `cpuacct`, …); v2: empty. */
  readonly controllers: readonly string[];
  /** v1 named hierarchy without controllers (`name=systemd`). */
  readonly name?: string;
}

/** Undoes the octal escapes of /proc/mounts (`\040` for a space, `\011`, `\012`, `\134`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The cgroup mounts of a mount table (/proc/PID/mounts, proc(5)): `SOURCE MOUNTPOINT TYPE
 * OPTIONS DUMP PASS` per line. Lines of other file system types are skipped.
 *
 * @throws ParseError on a line with fewer than four fields.
 */
export function parseCgroupMounts(text: string, source: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    if (fields.length < 4)
      throw new ParseError(source, i + 1, `expected at least 4 fields, got ${JSON.stringify(line)}`);
    const [, rawPoint = '', type = '', options = ''] = fields;
    const mountPoint = unescapeMountField(rawPoint);
    if (type === 'cgroup2') {
      mounts.push({ mountPoint, version: 2, controllers: [] });
    } else if (type === 'cgroup') {
      const opts = options.split(',');
      const controllers = opts.filter((o) => V1_CONTROLLERS.has(o));
      const named = opts.find((o) => o.startsWith('name='));
      mounts.push(
        named === undefined
          ? { mountPoint, version: 1, controllers }
          : { mountPoint, version: 1, controllers, name: named.slice(5) },
      );
    }
  }
  return mounts;
}

/** How the cgroup hierarchies of a host are laid out. */
export type CgroupLayout = 'v1' | 'v2' | 'hybrid';

/** The hierarchies this receiver reads, from a host's cgroup mounts. */
export interface CgroupHierarchies {
  readonly layout: CgroupLayout;
  /** Mount point of the unified (v2) hierarchy, if mounted. */
  readonly unified?: string;
  /** v1 controller → mount point of its hierarchy (comounted controllers share one). */
  readonly v1: ReadonlyMap<string, string>;
}

/**
 * Works out the layout from the cgroup mounts: `v2` when only a cgroup2 hierarchy is mounted,
 * `v1` when only v1 hierarchies are, `hybrid` when both are (systemd's hybrid mode: v1
 * controllers under /sys/fs/cgroup, cgroup2 without controllers at /sys/fs/cgroup/unified).
 * When a controller or cgroup2 is mounted more than once, the mount under /sys/fs/cgroup
 * wins, then the first one. Undefined when nothing is mounted.
 */
export function resolveHierarchies(mounts: readonly CgroupMount[]): CgroupHierarchies | undefined {
  const preferred = [...mounts].sort(
    (a, b) =>
      Number(!a.mountPoint.startsWith('/sys/fs/cgroup')) - Number(!b.mountPoint.startsWith('/sys/fs/cgroup')),
  );
  let unified: string | undefined;
  const v1 = new Map<string, string>();
  for (const mount of preferred) {
    if (mount.version === 2) unified ??= mount.mountPoint;
    else
      for (const controller of mount.controllers)
        if (!v1.has(controller)) v1.set(controller, mount.mountPoint);
  }
  if (unified === undefined) return v1.size === 0 ? undefined : { layout: 'v1', v1 };
  return { layout: v1.size === 0 ? 'v2' : 'hybrid', unified, v1 };
}
