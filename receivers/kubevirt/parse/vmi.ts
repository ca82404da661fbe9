import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';

/**
 * The parts of KubeVirt's `VirtualMachineInstance` (kubevirt.io/v1) and of its `virt-launcher`
 * pods that tell which VMs run on a node, and the pure join of the two. Field names are those
 * of the KubeVirt API reference (`kubevirt.io/api/core/v1`, types.go) and of core/v1 Pod.
 */

/** A `VirtualMachineInstance` as the API serves it, reduced to what discovery reads. */
export interface VirtualMachineInstance extends KubernetesObject {
  readonly status?: {
    /** `Pending`, `Scheduling`, `Scheduled`, `Running`, `Succeeded`, `Failed`, `Unknown`. */
    readonly phase?: string;
    /** The node the VMI runs on, set once it is scheduled. */
    readonly nodeName?: string;
    /** Launcher pod UID → node name, for every pod of the VMI that is alive (two during a migration). */
    readonly activePods?: Readonly<Record<string, string>>;
  };
}

/** The `virt-launcher` pod of a VMI: the pod whose cgroup holds the VM's QEMU process. */
export interface LauncherPod {
  readonly name: string;
  readonly uid: string;
  /** Container names in `spec.containers` order (`compute` first, then disk and console containers). */
  readonly containers: readonly string[];
  /** `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`. */
  readonly phase?: string;
  /** `Guaranteed`, `Burstable` or `BestEffort`: where the kubelet puts the pod's cgroup. */
  readonly qosClass?: string;
}

/** A VM that runs (or is being started or stopped) on this node. */
export interface VmTarget {
  readonly namespace: string;
  readonly vmiName: string;
  readonly vmiUid: string;
  /** The owning `VirtualMachine` (ownerReferences kind VirtualMachine), absent for a bare VMI. */
  readonly vmName?: string;
  readonly nodeName: string;
  /** The VMI's `status.phase`; `Unknown` when the VMI has none yet. */
  readonly phase: string;
  /** Absent when no launcher pod of this VMI is on the node (yet, or any more). */
  readonly launcherPod?: LauncherPod;
}

/** Label KubeVirt sets on a VMI (and its launcher pod) with the node it runs on. */
export const NODE_LABEL = 'kubevirt.io/nodeName';
/** Label of every `virt-launcher` pod. */
export const LAUNCHER_SELECTOR = 'kubevirt.io=virt-launcher';
/** Label of a launcher pod with the UID of the VMI that created it. */
export const CREATED_BY_LABEL = 'kubevirt.io/created-by';

/** Pods that are done never hold a running VM any more. */
const FINISHED = new Set(['Succeeded', 'Failed']);

/** The UID of the VMI a launcher pod belongs to: its owner reference, else the created-by label. */
export function launcherOwnerUid(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.kind === 'VirtualMachineInstance');
  return owner?.uid ?? pod.metadata?.labels?.[CREATED_BY_LABEL];
}

function toLauncherPod(pod: V1Pod): LauncherPod | undefined {
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  if (uid === undefined || name === undefined) return undefined;
  const phase = pod.status?.phase;
  const qosClass = pod.status?.qosClass;
  return {
    name,
    uid,
    containers: (pod.spec?.containers ?? []).map((c) => c.name),
    ...(phase === undefined ? {} : { phase }),
    ...(qosClass === undefined ? {} : { qosClass }),
  };
}

/** The order in which candidate launcher pods are preferred: listed as active, running, newest. */
function rank(pod: V1Pod, active: ReadonlySet<string>): [number, number, number] {
  const created = pod.metadata?.creationTimestamp;
  const time = created === undefined ? 0 : new Date(created).getTime();
  return [
    active.has(pod.metadata?.uid ?? '') ? 1 : 0,
    pod.status?.phase === 'Running' ? 1 : 0,
    Number.isFinite(time) ? time : 0,
  ];
}

function better(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return false;
}

/**
 * Joins the VMIs and launcher pods seen on `nodeName` into targets, sorted by namespace and
 * VMI name. A VMI whose `status.nodeName` names another node (it migrated away before its
 * label changed) is left out; a launcher pod that finished is never chosen; when a VMI has
 * several pods here, the one the VMI lists as active and running wins.
 */
export function toVmTargets(
  vmis: readonly VirtualMachineInstance[],
  pods: readonly V1Pod[],
  nodeName: string,
): VmTarget[] {
  const podsByVmi = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    if (pod.spec?.nodeName !== undefined && pod.spec.nodeName !== nodeName) continue;
    if (FINISHED.has(pod.status?.phase ?? '')) continue;
    const owner = launcherOwnerUid(pod);
    if (owner === undefined) continue;
    const list = podsByVmi.get(owner);
    if (list === undefined) podsByVmi.set(owner, [pod]);
    else list.push(pod);
  }
  const targets: VmTarget[] = [];
  for (const vmi of vmis) {
    const meta = vmi.metadata;
    const uid = meta?.uid;
    const name = meta?.name;
    if (uid === undefined || name === undefined) continue;
    const node = vmi.status?.nodeName ?? meta?.labels?.[NODE_LABEL];
    if (node !== nodeName) continue;
    const active = new Set(Object.keys(vmi.status?.activePods ?? {}));
    let chosen: V1Pod | undefined;
    let chosenRank: [number, number, number] = [-1, -1, -1];
    for (const pod of podsByVmi.get(uid) ?? []) {
      const r = rank(pod, active);
      if (better(r, chosenRank)) {
        chosen = pod;
        chosenRank = r;
      }
    }
    const launcherPod = chosen === undefined ? undefined : toLauncherPod(chosen);
    const vmName = meta?.ownerReferences?.find((ref) => ref.kind === 'VirtualMachine')?.name;
    targets.push({
      namespace: meta?.namespace ?? '',
      vmiName: name,
      vmiUid: uid,
      ...(vmName === undefined ? {} : { vmName }),
      nodeName,
      phase: vmi.status?.phase ?? 'Unknown',
      ...(launcherPod === undefined ? {} : { launcherPod }),
    });
  }
  targets.sort((a, b) =>
    a.namespace === b.namespace
      ? a.vmiName < b.vmiName
        ? -1
        : a.vmiName > b.vmiName
          ? 1
          : 0
      : a.namespace < b.namespace
        ? -1
        : 1,
  );
  return targets;
}
