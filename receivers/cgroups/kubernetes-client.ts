import { CoreV1Api, KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import type { PodInfo } from './parse/pod.ts';
import { toPodInfo } from './parse/pod.ts';

/**
 * The Kubernetes API side of the receiver (its only network I/O): a watch-based cache of the
 * pods scheduled on this node, so that pod cgroups get their name, namespace and container
 * names. One LIST, then a WATCH from its resourceVersion; a watch that ends is resumed from
 * the last version seen; `410 Gone` (the version is too old) makes it LIST again. Other
 * failures are reported and retried with backoff.
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
  /** First retry delay after a failure, doubled up to 30 s. */
  readonly retryDelayMs?: number;
}

/** A KubeConfig from the receiver's settings: in-cluster service account or a kubeconfig file. */
export function loadKubeConfig(auth: 'service_account' | 'kubeconfig', file?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (auth === 'kubeconfig' && file !== undefined) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

const MAX_RETRY_DELAY_MS = 30_000;

/** A watch-based cache of the node's pods. */
export function createPodWatcher(options: PodWatchOptions): PodMetadataSource {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `spec.nodeName=${options.nodeName}`;
  const informer = new ListWatch<V1Pod>(
    '/api/v1/pods',
    new Watch(options.kubeConfig),
    () => core.listPodForAllNamespaces({ fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  const pods = new Map<string, PodInfo>();
  let version = 0;
  let stopped = true;
  let retryDelay = options.retryDelayMs ?? 1000;
  let retryTimer: NodeJS.Timeout | undefined;

  const upsert = (pod: V1Pod): void => {
    const info = toPodInfo(pod);
    if (info === undefined) return;
    pods.set(info.uid, info);
    version += 1;
    retryDelay = options.retryDelayMs ?? 1000;
  };
  const remove = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid;
    if (uid !== undefined && pods.delete(uid)) version += 1;
  };
  const run = (): void => {
    // The ListWatch reports its own failures through the 'error' callback; a rejection here
    // can only come from building the request (credentials), reported the same way.
    informer.start().catch((error: unknown) => {
      failed(error);
    });
  };
  const failed = (error: unknown): void => {
    options.onError(error);
    if (stopped) return;
    retryTimer = setTimeout(run, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY_MS);
  };
  informer.on('add', upsert);
  informer.on('update', upsert);
  informer.on('delete', remove);
  informer.on('error', failed);

  return {
    get version() {
      return version;
    },
    get: (uid) => pods.get(uid),
    start() {
      if (!stopped) return;
      stopped = false;
      run();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}
