import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import type { WatchSource } from '../../kit/kubernetes-watch.ts';
import { createObjectWatch } from '../../kit/kubernetes-watch.ts';
import type { VirtualMachineInstance, VmTarget } from './parse/vmi.ts';
import { LAUNCHER_SELECTOR, NODE_LABEL, toVmTargets } from './parse/vmi.ts';

export type { LauncherPod, VmTarget } from './parse/vmi.ts';

/**
 * The KubeVirt VMs of one node, from the Kubernetes API (the receiver's only network I/O
 * besides libvirt): a watch on the `VirtualMachineInstance` objects labelled with this node
 * (`kubevirt.io/nodeName`) and one on this node's `virt-launcher` pods (`kubevirt.io=virt-launcher`,
 * `spec.nodeName`), in one namespace, several, or all. Listing, watching, relisting after
 * `410 Gone` and retrying with backoff are `createObjectWatch`'s; `targets()` joins the two
 * caches without any I/O.
 */

/** The VMs on this node, kept current by the API watches. */
export interface VmDiscovery {
  /** Goes up whenever a VMI or launcher pod is added, changed or removed. */
  readonly version: number;
  /** The node's VMs, sorted by namespace and VMI name. */
  targets(): readonly VmTarget[];
  /** Starts listing and watching; returns without waiting for the first list. Safe to call twice. */
  start(): void;
  /** Stops watching; safe to call twice or before `start()`. */
  stop(): Promise<void>;
}

/** Which of the two watched collections a failure came from. */
export type DiscoveryResource = 'virtualmachineinstances' | 'pods';

/** How discovery connects and reports. */
export interface VmDiscoveryOptions {
  readonly kubeConfig: KubeConfig;
  /** The node whose VMs are discovered (`kubevirt.io/nodeName`, `spec.nodeName`). */
  readonly nodeName: string;
  /** Namespaces to watch; absent or empty: all namespaces. */
  readonly namespaces?: readonly string[];
  /** Called with every list or watch failure; the failed watch is retried after a delay. */
  readonly onError: (error: unknown, resource: DiscoveryResource) => void;
  /** Called once when a watch that failed answers again. */
  readonly onRecovered?: (resource: DiscoveryResource) => void;
  /** First retry delay after a failure, doubled up to 30 s. Default 1 s. */
  readonly retryDelayMs?: number;
}

const GROUP = 'kubevirt.io';
const VERSION = 'v1';
const PLURAL = 'virtualmachineinstances';

/** Creates the discovery; nothing is requested before `start()`. */
export function createVmDiscovery(options: VmDiscoveryOptions): VmDiscovery {
  const { kubeConfig, nodeName } = options;
  const namespaces = options.namespaces ?? [];
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const vmiSelector = `${NODE_LABEL}=${nodeName}`;
  const podFields = `spec.nodeName=${nodeName}`;
  const retry = options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs };

  // listClusterCustomObject and listNamespacedCustomObject answer `any` (custom resources have
  // no generated model): the JSON is the VMI list as the API serves it.
  type VmiList = KubernetesListObject<VirtualMachineInstance>;
  const vmiSources: WatchSource<VirtualMachineInstance>[] =
    namespaces.length === 0
      ? [
          {
            path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
            list: async () =>
              (await custom.listClusterCustomObject({
                group: GROUP,
                version: VERSION,
                plural: PLURAL,
                labelSelector: vmiSelector,
              })) as VmiList,
            labelSelector: vmiSelector,
          },
        ]
      : namespaces.map((namespace) => ({
          path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
          list: async () =>
            (await custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace,
              plural: PLURAL,
              labelSelector: vmiSelector,
            })) as VmiList,
          labelSelector: vmiSelector,
        }));
  const podSources: WatchSource<V1Pod>[] =
    namespaces.length === 0
      ? [
          {
            path: '/api/v1/pods',
            list: () =>
              core.listPodForAllNamespaces({ labelSelector: LAUNCHER_SELECTOR, fieldSelector: podFields }),
            labelSelector: LAUNCHER_SELECTOR,
            fieldSelector: podFields,
          },
        ]
      : namespaces.map((namespace) => ({
          path: `/api/v1/namespaces/${namespace}/pods`,
          list: () =>
            core.listNamespacedPod({ namespace, labelSelector: LAUNCHER_SELECTOR, fieldSelector: podFields }),
          labelSelector: LAUNCHER_SELECTOR,
          fieldSelector: podFields,
        }));

  const vmis = createObjectWatch<VirtualMachineInstance>({
    kubeConfig,
    sources: vmiSources,
    onError: (error) => {
      options.onError(error, 'virtualmachineinstances');
    },
    onRecovered: () => options.onRecovered?.('virtualmachineinstances'),
    ...retry,
  });
  const pods = createObjectWatch<V1Pod>({
    kubeConfig,
    sources: podSources,
    onError: (error) => {
      options.onError(error, 'pods');
    },
    onRecovered: () => options.onRecovered?.('pods'),
    ...retry,
  });

  let joinedAt = -1;
  let joined: readonly VmTarget[] = [];
  const version = (): number => vmis.version + pods.version;

  return {
    get version() {
      return version();
    },
    targets() {
      const now = version();
      if (now !== joinedAt) {
        joined = toVmTargets(vmis.objects(), pods.objects(), nodeName);
        joinedAt = now;
      }
      return joined;
    },
    start() {
      vmis.start();
      pods.start();
    },
    async stop() {
      await Promise.all([vmis.stop(), pods.stop()]);
    },
  };
}
