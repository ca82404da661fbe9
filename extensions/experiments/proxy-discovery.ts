import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { createObjectWatch } from '../../kit/kubernetes-watch.ts';

export { loadKubeConfig } from '../../kit/kubernetes-watch.ts';

/**
 * The collectors `/proxy/…` may reach besides the static `proxy_targets`: the Running pods of
 * one namespace that match a label selector, kept current by a LIST-then-WATCH of the
 * Kubernetes API (`createObjectWatch`: resumed, relisted on `410 Gone`, retried with backoff).
 * A pod is reachable at its IP or its name, on the configured port only, while it is Running
 * with an IP and not being deleted; a pod the watch reports deleted is refused from then on.
 */

/** Resolves a `/proxy/HOST:PORT` target to the address to connect to, or undefined when it is not allowed. */
export interface ProxyTargetResolver {
  resolve(host: string, port: number): string | undefined;
}

/** The discovered pods, watched between `start()` and `stop()`. */
export interface PodDiscovery extends ProxyTargetResolver {
  /** Starts listing and watching; returns without waiting for the first list. */
  start(): void;
  /** Stops watching; safe to call twice. */
  stop(): Promise<void>;
}

export interface PodDiscoveryOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly labelSelector: string;
  /** The only port of the pods that is reachable. */
  readonly port: number;
  /** Called with every list or watch failure; the watch is retried after a delay. */
  readonly onError: (error: unknown) => void;
  /** Called once when the watch answers again after a failure. */
  readonly onRecovered?: () => void;
}

/** The pod's IP when it may be reached: Running, with an IPv4 address, not being deleted. */
function reachableIp(pod: V1Pod): string | undefined {
  if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp !== undefined) return undefined;
  const ip = pod.status.podIP;
  return ip !== undefined && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip : undefined;
}

export function createPodDiscovery(options: PodDiscoveryOptions): PodDiscovery {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const { namespace, labelSelector } = options;
  const watch = createObjectWatch<V1Pod>({
    kubeConfig: options.kubeConfig,
    sources: [
      {
        path: `/api/v1/namespaces/${namespace}/pods`,
        list: () => core.listNamespacedPod({ namespace, labelSelector }),
        labelSelector,
      },
    ],
    onError: options.onError,
    onRecovered: () => options.onRecovered?.(),
  });
  // Pod IP and pod name → pod IP, rebuilt when the cache changed, not on every request.
  let indexed = -1;
  let addresses = new Map<string, string>();
  const index = (): Map<string, string> => {
    if (indexed === watch.version) return addresses;
    addresses = new Map();
    for (const pod of watch.objects()) {
      const ip = reachableIp(pod);
      if (ip === undefined) continue;
      addresses.set(ip, ip);
      const name = pod.metadata?.name;
      if (name !== undefined) addresses.set(name.toLowerCase(), ip);
    }
    indexed = watch.version;
    return addresses;
  };
  return {
    resolve: (host, port) => (port === options.port ? index().get(host.toLowerCase()) : undefined),
    start: () => {
      watch.start();
    },
    stop: () => watch.stop(),
  };
}
