/**
 * What a cgroup is, read from its path alone: a container and its runtime, a Kubernetes pod
 * and its QoS class, a systemd unit, an HPC job or step. The rules follow the names each
 * manager gives its cgroups:
 *
 * - Docker: `/docker/<id>` (cgroupfs driver), `…/docker-<id>.scope` (systemd driver).
 * - containerd (CRI): `…/cri-containerd-<id>.scope`; CRI-O: `…/crio-<id>.scope` or `…/crio-<id>`;
 *   Podman: `…/libpod-<id>.scope` or `/libpod_parent/libpod-<id>`. `<id>` is 64 hex digits.
 *   The `*-conmon-<id>.scope` monitors of CRI-O and Podman are not containers.
 * - kubelet, systemd driver: `kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice`
 *   with the pod UID's dashes written as underscores; a Guaranteed pod sits directly under
 *   `kubepods.slice` as `kubepods-pod<uid>.slice`. cgroupfs driver: `/kubepods/<qos>/pod<uid>`
 *   and `/kubepods/pod<uid>`, each container a child named by its bare id.
 * - Slurm: `/slurm/uid_<U>/job_<J>/step_<S>` (cgroup v1) and
 *   `…/slurmstepd.scope/job_<J>/step_<S>/…` (cgroup v2, also `<node>_slurmstepd.scope`).
 * - OAR: `/oar/<user>_<jobid>`.
 * - systemd: the last `.slice`, `.service` or `.scope` segment names the unit.
 *
 * A cgroup below a recognised one inherits its identity (a container's own sub-cgroups keep
 * the container id) with kind `other`, unless it is recognised itself.
 */

/** The role of a cgroup, from its path. */
export type CgroupKind =
  | 'root'
  | 'kubepods'
  | 'qos'
  | 'pod'
  | 'container'
  | 'job'
  | 'step'
  | 'task'
  | 'slice'
  | 'service'
  | 'scope'
  | 'other';

/** Kubernetes QoS classes, spelled as in PodStatus.qosClass. */
export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** A cgroup's identity. Fields are present only when the path says so. */
export interface CgroupIdentity {
  readonly kind: CgroupKind;
  /** Full container id (64 hex digits). */
  readonly containerId?: string;
  /** `docker`, `containerd`, `cri-o` or `podman`. */
  readonly runtime?: string;
  /** Kubernetes pod UID with dashes. */
  readonly podUid?: string;
  readonly qosClass?: QosClass;
  /** The systemd unit (`sshd.service`, `user-1000.slice`) the cgroup is or is inside. */
  readonly systemdUnit?: string;
  /** `slurm` or `oar`. */
  readonly scheduler?: string;
  readonly jobId?: string;
  /** Slurm: the uid (v1 paths carry it); OAR: the user name. */
  readonly jobUser?: string;
  /** Slurm step: a number, `batch`, `extern` or `interactive`. */
  readonly jobStep?: string;
}

const ID = '[0-9a-f]{64}';
const CONTAINER_SEGMENTS: readonly (readonly [RegExp, string])[] = [
  [new RegExp(`^docker-(${ID})\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-(${ID})\\.scope$`), 'containerd'],
  [new RegExp(`^crio-(${ID})(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-(${ID})(?:\\.scope)?$`), 'podman'],
];
const BARE_ID = new RegExp(`^(${ID})$`);
const SYSTEMD_POD = /^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f_]{36})\.slice$/;
const SYSTEMD_QOS = /^kubepods-(burstable|besteffort)\.slice$/;
const CGROUPFS_POD = /^pod([0-9a-f-]{36})$/;
const SLURM_STEPD = /^(?:.+_)?slurmstepd\.scope$/;
const OAR_JOB = /^(.+)_(\d+)$/;
const QOS = { burstable: 'Burstable', besteffort: 'BestEffort' } as const;

/** QoS class of a `burstable` or `besteffort` path segment (the regexes admit only these two). */
function qosOf(tier: string): QosClass {
  return tier === 'burstable' ? QOS.burstable : QOS.besteffort;
}

interface Mutable {
  kind: CgroupKind;
  containerId?: string;
  runtime?: string;
  podUid?: string;
  qosClass?: QosClass;
  systemdUnit?: string;
  scheduler?: string;
  jobId?: string;
  jobUser?: string;
  jobStep?: string;
}

/** Identity of the cgroup at `path` (`/` or `/a/b`, relative to its hierarchy's root). */
export function parseCgroupPath(path: string): CgroupIdentity {
  const id: Mutable = { kind: 'root' };
  let parent = '';
  let inKube = false;
  let inSlurm = false;
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    id.kind = classify(segment, parent, id, inKube, inSlurm);
    if (id.kind === 'kubepods') inKube = true;
    if (segment === 'slurm' || SLURM_STEPD.test(segment)) inSlurm = true;
    parent = segment;
  }
  return id;
}

function classify(
  segment: string,
  parent: string,
  id: Mutable,
  inKube: boolean,
  inSlurm: boolean,
): CgroupKind {
  for (const [pattern, runtime] of CONTAINER_SEGMENTS) {
    const match = pattern.exec(segment);
    if (match?.[1] !== undefined) {
      id.containerId = match[1];
      id.runtime = runtime;
      return 'container';
    }
  }
  if (segment === 'kubepods' || segment === 'kubepods.slice') return 'kubepods';
  if (inKube) {
    const kind = classifyKube(segment, parent, id);
    if (kind !== undefined) return kind;
  }
  if (parent === 'docker') {
    const match = BARE_ID.exec(segment);
    if (match?.[1] !== undefined) {
      id.containerId = match[1];
      id.runtime = 'docker';
      return 'container';
    }
  }
  if (inSlurm) {
    const kind = classifySlurm(segment, id);
    if (kind !== undefined) return kind;
  }
  if (parent === 'oar') {
    const match = OAR_JOB.exec(segment);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      id.scheduler = 'oar';
      id.jobUser = match[1];
      id.jobId = match[2];
      return 'job';
    }
  }
  if (segment.endsWith('.slice')) return unit(segment, 'slice', id);
  if (segment.endsWith('.service')) return unit(segment, 'service', id);
  if (segment.endsWith('.scope')) return unit(segment, 'scope', id);
  return 'other';
}

function unit(segment: string, kind: 'slice' | 'service' | 'scope', id: Mutable): CgroupKind {
  id.systemdUnit = segment;
  return kind;
}

function classifyKube(segment: string, parent: string, id: Mutable): CgroupKind | undefined {
  let match = SYSTEMD_POD.exec(segment);
  if (match?.[2] !== undefined) {
    id.podUid = match[2].replaceAll('_', '-');
    id.qosClass = match[1] === undefined ? 'Guaranteed' : qosOf(match[1]);
    return 'pod';
  }
  match = SYSTEMD_QOS.exec(segment);
  if (match?.[1] !== undefined) {
    id.qosClass = qosOf(match[1]);
    return 'qos';
  }
  if (parent === 'kubepods' && (segment === 'burstable' || segment === 'besteffort')) {
    id.qosClass = qosOf(segment);
    return 'qos';
  }
  match = CGROUPFS_POD.exec(segment);
  if (match?.[1] !== undefined) {
    id.podUid = match[1];
    id.qosClass ??= 'Guaranteed';
    return 'pod';
  }
  if (id.podUid !== undefined && id.containerId === undefined) {
    const bare = BARE_ID.exec(segment);
    if (bare?.[1] !== undefined) {
      id.containerId = bare[1];
      return 'container';
    }
  }
  return undefined;
}

function classifySlurm(segment: string, id: Mutable): CgroupKind | undefined {
  if (segment.startsWith('uid_')) {
    id.scheduler = 'slurm';
    id.jobUser = segment.slice(4);
    return 'other';
  }
  if (segment.startsWith('job_')) {
    id.scheduler = 'slurm';
    id.jobId = segment.slice(4);
    return 'job';
  }
  if (segment.startsWith('step_') && id.jobId !== undefined) {
    id.jobStep = segment.slice(5);
    return 'step';
  }
  if (segment.startsWith('task_') && id.jobStep !== undefined) return 'task';
  return undefined;
}
