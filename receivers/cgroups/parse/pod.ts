import type { V1Pod } from '@kubernetes/client-node';

/** A container of a pod, keyed by its runtime id. */
export interface PodContainer {
  readonly name: string;
  /** Runtime from the `containerID` scheme: `containerd`, `cri-o`, `docker`. */
  readonly runtime?: string;
}

/** What the receiver adds to a pod's cgroups. */
export interface PodInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly qosClass?: string;
  /** Container id (64 hex digits) → container. Init and ephemeral containers included. */
  readonly containers: ReadonlyMap<string, PodContainer>;
}

const SCHEMES: Readonly<Record<string, string>> = {
  containerd: 'containerd',
  'cri-o': 'cri-o',
  docker: 'docker',
};

/**
 * The parts of a Pod object (core/v1) the receiver uses. `status.containerStatuses[].containerID`
 * is `<runtime>://<id>`. Undefined when the pod has no uid or name.
 */
export function toPodInfo(pod: V1Pod): PodInfo | undefined {
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  if (uid === undefined || name === undefined) return undefined;
  const containers = new Map<string, PodContainer>();
  const status = pod.status;
  const statuses = [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
    ...(status?.ephemeralContainerStatuses ?? []),
  ];
  for (const container of statuses) {
    const id = container.containerID;
    if (id === undefined || id === '') continue;
    const sep = id.indexOf('://');
    const runtime = sep < 0 ? undefined : SCHEMES[id.slice(0, sep)];
    const bare = sep < 0 ? id : id.slice(sep + 3);
    containers.set(
      bare,
      runtime === undefined ? { name: container.name } : { name: container.name, runtime },
    );
  }
  const info = { uid, name, namespace: pod.metadata?.namespace ?? '', containers };
  return status?.qosClass === undefined ? info : { ...info, qosClass: status.qosClass };
}
