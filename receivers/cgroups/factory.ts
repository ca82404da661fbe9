import type { KubeConfig } from '@kubernetes/client-node';
import type { ComponentSettings, Receiver, ReceiverFactory, Scraper } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import type { CgroupFsClient } from './client.ts';
import type { Config } from './config.ts';
import { configSchema } from './config.ts';
import type { PodMetadataSource } from './kubernetes-client.ts';
import { metadata } from './metadata.ts';
import type { CgroupsScraperDeps } from './scraper.ts';
import { createCgroupsScraper } from './scraper.ts';

/** The `cgroups` receiver: CPU, memory, I/O, pids, pressure and network of every container, pod, unit and job cgroup. */
export const cgroupsFactory: ReceiverFactory<Config> = {
  kind: 'receiver',
  type: metadata.type,
  stability: metadata.stability,
  description: 'Containers, pods, systemd units and batch jobs from cgroup v1, v2 and hybrid trees',
  configSchema,
  create: (settings, config) => createCgroupsReceiver(settings, config),
};

/** What a test or an embedding program may hand the receiver instead of the real thing. */
export interface CgroupsReceiverDeps {
  readonly client?: CgroupFsClient;
  /** Used instead of the service account or kubeconfig file when `kubernetes.enabled`. */
  readonly kubeConfig?: KubeConfig;
  readonly now?: () => number;
}

/**
 * The `cgroups` receiver: the scraper under the scrape controller, plus the pod watch when
 * `kubernetes.enabled`. Loading Kubernetes credentials happens here, so bad credentials fail
 * at start-up.
 */
export function createCgroupsReceiver(
  settings: ComponentSettings,
  config: Config,
  deps: CgroupsReceiverDeps = {},
): Receiver {
  let pods: PodMetadataSource | undefined;
  let watcher: PodMetadataSource | undefined;
  const k8s = config.kubernetes;
  const nodeName = k8s.node_name;
  if (k8s.enabled && nodeName !== undefined) {
    // The Kubernetes client library is large: it is loaded at start, only when enabled.
    pods = {
      get version() {
        return watcher?.version ?? 0;
      },
      get: (uid) => watcher?.get(uid),
      start: () => watcher?.start(),
      stop: async () => {
        await watcher?.stop();
      },
    };
  }
  const loadWatcher = async (): Promise<void> => {
    if (pods === undefined || watcher !== undefined || nodeName === undefined) return;
    const { createPodWatcher, loadKubeConfig } = await import('./kubernetes-client.ts');
    const errorLog = new ErrorLog(settings.logger);
    watcher = createPodWatcher({
      kubeConfig: deps.kubeConfig ?? loadKubeConfig(k8s.auth_type, k8s.kubeconfig),
      nodeName,
      onError: (error) => {
        errorLog.report('kubernetes pod watch', error);
      },
      onRecovered: () => {
        errorLog.recovered('kubernetes pod watch');
      },
    });
  };
  const scraperDeps: CgroupsScraperDeps = {
    ...(deps.client === undefined ? {} : { client: deps.client }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
    ...(pods === undefined ? {} : { pods }),
  };
  const scraper = createCgroupsScraper(config, scraperDeps);
  const capLog = new ErrorLog(settings.logger);
  const capped: Scraper = {
    metricProducer: scraper.metricProducer,
    shutdown: () => scraper.shutdown?.() ?? Promise.resolve(),
    async scrape(signal) {
      const report = await scraper.scrape(signal);
      // Logged once while the cap holds (the count itself is a metric), again after it stopped.
      if (scraper.snapshot().counts.over_limit > 0) {
        capLog.report(
          'max_cgroups',
          new Error(
            `more cgroups are selected than max_cgroups (${String(config.max_cgroups)}): the rest are not reported, see inframeter.cgroups.selected{inframeter.cgroups.selection="over_limit"}`,
          ),
        );
      } else {
        capLog.recovered('max_cgroups');
      }
      return report;
    },
  };
  const receiver = createScraperReceiver(settings, config, capped);
  return {
    async start(next) {
      await loadWatcher();
      pods?.start();
      await receiver.start(next);
    },
    setCollectionInterval(ms) {
      receiver.setCollectionInterval?.(ms);
    },
    async shutdown() {
      await receiver.shutdown();
      await pods?.stop();
    },
  };
}
