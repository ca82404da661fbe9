import { ParseError } from '../errors.ts';

/** One line of `/proc/<pid>/cgroup` (cgroups(7)): a hierarchy the process belongs to. */
export interface CgroupMembership {
  /** Hierarchy id; 0 for the cgroup v2 unified hierarchy. */
  readonly hierarchyId: number;
  /** Controllers bound to the hierarchy (`cpu`, `memory`, `name=systemd`); empty for v2. */
  readonly controllers: readonly string[];
  /** The cgroup's path relative to the hierarchy's mount point, starting with `/`. */
  readonly path: string;
}

/**
 * Parses `/proc/<pid>/cgroup`: `hierarchy-id:controller-list:path` per line (v1 lines and the
 * v2 line `0::/path`). The path may itself contain colons: only the first two separate fields.
 */
export function parseCgroup(text: string): CgroupMembership[] {
  const out: CgroupMembership[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0)
      throw new ParseError(
        '/proc/<pid>/cgroup',
        i + 1,
        `expected "id:controllers:path", got ${JSON.stringify(line)}`,
      );
    const idText = line.slice(0, first);
    const hierarchyId = Number(idText);
    if (idText === '' || !Number.isSafeInteger(hierarchyId))
      throw new ParseError(
        '/proc/<pid>/cgroup',
        i + 1,
        `hierarchy id is not a number: ${JSON.stringify(idText)}`,
      );
    const controllerList = line.slice(first + 1, second);
    out.push({
      hierarchyId,
      controllers: controllerList === '' ? [] : controllerList.split(','),
      path: line.slice(second + 1),
    });
  }
  return out;
}

const CONTAINER_ID = /[0-9a-f]{64}/g;

/**
 * The container id in a cgroup path: the last run of 64 hex digits, as container runtimes
 * name their cgroups (`/docker/<id>`, `/system.slice/docker-<id>.scope`,
 * `/kubepods/…/pod<uid>/<id>`, `…/cri-containerd-<id>.scope`, `…/crio-<id>.scope`).
 */
export function containerIdOf(path: string): string | undefined {
  const matches = path.match(CONTAINER_ID);
  return matches === null ? undefined : matches[matches.length - 1];
}
