import type { KubeConfig } from '@kubernetes/client-node';
import type { ComponentSettings, Receiver, ReceiverFactory } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import type { ConnectionOptions, LibvirtConnection } from '../libvirt/index.ts';
import type { KubevirtHostClient } from './client.ts';
import type { Config } from './config.ts';
import type { DiscoveryResource, VmDiscovery } from './discovery.ts';
import type { VmTarget } from './parse/vmi.ts';
import { KubevirtScraper } from './scraper.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';

/** What a test or an embedding program may hand the receiver instead of the real thing. */
export interface KubevirtReceiverDeps {
  /** Used instead of the service account or kubeconfig file. */
  readonly kubeConfig?: KubeConfig;
  readonly client?: KubevirtHostClient;
  readonly openLibvirt?: (uri: string, options?: ConnectionOptions) => Promise<LibvirtConnection>;
  /** First retry delay of the API watches (default 1 s). */
  readonly retryDelayMs?: number;
}

/**
 * The `kubevirt` receiver: the VM discovery (API watches) feeding the scraper under the scrape
 * controller. Kubernetes credentials are loaded at start, so bad ones fail the start; the
 * Kubernetes client library is loaded only then.
 */
export function createKubevirtReceiver(
  settings: ComponentSettings,
  config: Config,
  deps: KubevirtReceiverDeps = {},
): Receiver {
  let discovery: VmDiscovery | undefined;
  const vms = {
    get version() {
      return discovery?.version ?? 0;
    },
    targets: (): readonly VmTarget[] => discovery?.targets() ?? [],
  };
  const scraper = new KubevirtScraper(config, {
    vms,
    logger: settings.logger,
    ...(deps.client === undefined ? {} : { client: deps.client }),
    ...(deps.openLibvirt === undefined ? {} : { openLibvirt: deps.openLibvirt }),
  });
  const errorLog = new ErrorLog(settings.logger);
  const receiver = createScraperReceiver(settings, config, scraper);
  let started = false;
  return {
    async start(next) {
      if (started) return;
      started = true;
      // Loaded on start: @kubernetes/client-node is large, and a collector without this
      // receiver does not load it.
      const [{ createVmDiscovery }, { httpStatus, loadKubeConfig }] = await Promise.all([
        import('./discovery.ts'),
        import('../../kit/kubernetes-watch.ts'),
      ]);
      /** The `error.type` of a failed list or watch: its HTTP status, or `connection`. */
      const errorType = (error: unknown): string => {
        const status = httpStatus(error);
        return status === undefined ? 'connection' : String(status);
      };
      discovery = createVmDiscovery({
        kubeConfig: deps.kubeConfig ?? loadKubeConfig(config.auth_type, config.kubeconfig),
        nodeName: config.node_name,
        namespaces: config.namespaces,
        onError: (error: unknown, resource: DiscoveryResource) => {
          scraper.countDiscoveryError(resource, errorType(error));
          errorLog.report(`kubernetes ${resource} watch`, error);
        },
        onRecovered: (resource: DiscoveryResource) => {
          errorLog.recovered(`kubernetes ${resource} watch`);
        },
        ...(deps.retryDelayMs === undefined ? {} : { retryDelayMs: deps.retryDelayMs }),
      });
      discovery.start();
      await receiver.start(next);
    },
    setCollectionInterval(ms) {
      receiver.setCollectionInterval?.(ms);
    },
    async shutdown() {
      await receiver.shutdown();
      await discovery?.stop();
    },
  };
}

/** The `kubevirt` receiver: the KubeVirt VMs of this node, their QEMU process, launcher pod cgroup and libvirt domain. */
export const kubevirtFactory: ReceiverFactory<Config> = {
  kind: 'receiver',
  type: metadata.type,
  stability: metadata.stability,
  description:
    "KubeVirt VMs of this node (VirtualMachineInstance and virt-launcher pod watches): the QEMU process's CPU and RSS, the launcher pod's cgroup memory, and domain statistics through the launcher's libvirt daemon",
  configSchema,
  create: (settings, config) => createKubevirtReceiver(settings, config),
};
