import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { createObjectWatch } from '../../kit/kubernetes-watch.ts';
import type { PodInfo } from './parse/pod.ts';
import { toPodInfo } from './parse/pod.ts';

export { loadKubeConfig } from '../../kit/kubernetes-watch.ts';

/**
 * The Kubernetes API side of the receiver (its only network I/O): a watch-based cache of the
 * pods scheduled on this node, so that pod cgroups get their name, namespace and container
 * names. The list, watch, relist on `410 Gone` and retries are `createObjectWatch`'s.
 */

/** Pod metadata by UID. */
export interface PodMetadataSource {
  /** Goes up whenever a pod is added, changed or removed. */
  readonly version: number;
  get(uid: string): PodInfo | undefined;
  /** Starts listing and watching; returns without waiting for the first list. */
  start(): void;
  /** Stops watching; safe to call twice. */
  stop(): Promise<void>;
}

/** How the pod watch connects and reports. */
export interface PodWatchOptions {
  readonly kubeConfig: KubeConfig;
  /** Only pods with `spec.nodeName` equal to this are listed and watched. */
  readonly nodeName: string;
  /** Called with every failure (list, watch); the watch is retried after a delay. */
  readonly onError: (error: unknown) => void;
  /** Called once when the watch answers again after a failure. */
  readonly onRecovered?: () => void;
  /** First retry delay after a failure, doubled up to 30 s. */
  readonly retryDelayMs?: number;
}

/** A watch-based cache of the node's pods. */
export function createPodWatcher(options: PodWatchOptions): PodMetadataSource {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `spec.nodeName=${options.nodeName}`;
  const watch = createObjectWatch<V1Pod>({
    kubeConfig: options.kubeConfig,
    sources: [
      {
        path: '/api/v1/pods',
        list: () => core.listPodForAllNamespaces({ fieldSelector }),
        fieldSelector,
      },
    ],
    onError: options.onError,
    onRecovered: () => options.onRecovered?.(),
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
  });
  // The UID index is rebuilt when the cache changed, not on every lookup.
  let indexed = -1;
  let byUid = new Map<string, PodInfo>();
  const index = (): Map<string, PodInfo> => {
    if (indexed === watch.version) return byUid;
    byUid = new Map();
    for (const pod of watch.objects()) {
      const info = toPodInfo(pod);
      if (info !== undefined) byUid.set(info.uid, info);
    }
    indexed = watch.version;
    return byUid;
  };

  return {
    get version() {
      return watch.version;
    },
    get: (uid) => index().get(uid),
    start: () => {
      watch.start();
    },
    stop: () => watch.stop(),
  };
}
