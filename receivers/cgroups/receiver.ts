import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ComponentSettings, Receiver, Scraper } from '../../service/component.ts';
import { ErrorLog } from '../../service/error-log.ts';
import type { MetricMetadata } from '../../service/metadata.ts';
import { createScraperReceiver } from '../../service/scrape-controller.ts';
import type { CgroupFsClient } from './client.ts';
import type { Config } from './config.ts';
import { enabledMetrics } from './enabled.ts';
import type { PodMetadataSource } from './kubernetes-client.ts';
import type { CgroupsScraperDeps, Snapshot } from './scraper.ts';
import { CgroupsScraper } from './scraper.ts';
import type { CgroupStats } from './stats.ts';

/**
 * Publishes the cgroups snapshot through SDK instruments: one observable instrument per enabled
 * metric, all observed by one batch callback that only reads the last snapshot.
 */

/** Units whose values are fractional. */
const DOUBLE_UNITS = new Set(['s', '1', '{cpu}']);
const WINDOWS = [
  ['avg10', '10s'],
  ['avg60', '60s'],
  ['avg300', '300s'],
] as const;

type Observe = (name: string, value: number | undefined, attributes: Attributes) => void;

/** Registers the enabled metrics on `meter`; the callback reads `snapshot()` at collection time. */
export function registerInstruments(
  meter: Meter,
  metrics: readonly MetricMetadata[],
  snapshot: () => Snapshot,
): void {
  const instruments = new Map<string, Observable>();
  for (const m of metrics) {
    const options = {
      unit: m.unit,
      description: m.description,
      valueType: DOUBLE_UNITS.has(m.unit) ? ValueType.DOUBLE : ValueType.INT,
    };
    const instrument =
      m.instrument === 'counter'
        ? meter.createObservableCounter(m.name, options)
        : m.instrument === 'updowncounter'
          ? meter.createObservableUpDownCounter(m.name, options)
          : meter.createObservableGauge(m.name, options);
    instruments.set(m.name, instrument);
  }
  meter.addBatchObservableCallback(
    (result: BatchObservableResult) => {
      const observe: Observe = (name, value, attributes) => {
        const instrument = instruments.get(name);
        if (instrument !== undefined && value !== undefined) result.observe(instrument, value, attributes);
      };
      const current = snapshot();
      for (const cgroup of current.cgroups) observeCgroup(observe, cgroup.attributes, cgroup.stats);
      if (current.layout !== undefined) {
        for (const selection of ['exported', 'over_limit', 'vanished'] as const) {
          observe('inframeter.cgroups.count', current.counts[selection], {
            'inframeter.cgroups.selection': selection,
          });
        }
      }
    },
    [...instruments.values()],
  );
}

function observeCgroup(observe: Observe, base: Attributes, stats: CgroupStats): void {
  const { cpu, memory } = stats;
  observe('container.cpu.time', cpu.userSec, { ...base, 'cpu.mode': 'user' });
  observe('container.cpu.time', cpu.systemSec, { ...base, 'cpu.mode': 'system' });
  observe('container.cpu.usage', stats.cpuUsage, base);
  observe('inframeter.cgroups.cpu.periods', cpu.periods, base);
  observe('inframeter.cgroups.cpu.throttled_periods', cpu.throttledPeriods, base);
  observe('inframeter.cgroups.cpu.throttled_time', cpu.throttledSec, base);

  observe('container.memory.usage', memory.usage, base);
  observe('container.memory.working_set', memory.workingSet, base);
  observe('container.memory.rss', memory.rss, base);
  observe('container.memory.available', memory.available, base);
  observe('container.memory.paging.faults', memory.majorFaults, {
    ...base,
    'system.paging.fault.type': 'major',
  });
  observe('container.memory.paging.faults', memory.minorFaults, {
    ...base,
    'system.paging.fault.type': 'minor',
  });
  observe('inframeter.cgroups.memory.limit', memory.limit, base);
  observe('inframeter.cgroups.memory.file', memory.file, base);
  observe('inframeter.cgroups.memory.shmem', memory.shmem, base);
  observe('inframeter.cgroups.memory.file_mapped', memory.fileMapped, base);
  for (const [list, bytes] of memory.lru)
    observe('inframeter.cgroups.memory.lru', bytes, { ...base, 'inframeter.cgroups.memory.lru': list });
  const charge = 'inframeter.cgroups.memory.charge.direction';
  observe('inframeter.cgroups.memory.page_charges', memory.pgpgin, { ...base, [charge]: 'in' });
  observe('inframeter.cgroups.memory.page_charges', memory.pgpgout, { ...base, [charge]: 'out' });
  for (const [event, count] of memory.events)
    observe('inframeter.cgroups.memory.events', count, { ...base, 'inframeter.cgroups.memory.event': event });

  for (const disk of stats.disk) {
    const device = disk.device;
    observe('container.disk.io', disk.readBytes, {
      ...base,
      'disk.io.direction': 'read',
      'system.device': device,
    });
    observe('container.disk.io', disk.writeBytes, {
      ...base,
      'disk.io.direction': 'write',
      'system.device': device,
    });
    observe('container.disk.io', disk.discardBytes, {
      ...base,
      'disk.io.direction': 'discard',
      'system.device': device,
    });
    observe('inframeter.cgroups.disk.operations', disk.readOps, {
      ...base,
      'disk.io.direction': 'read',
      'system.device': device,
    });
    observe('inframeter.cgroups.disk.operations', disk.writeOps, {
      ...base,
      'disk.io.direction': 'write',
      'system.device': device,
    });
    observe('inframeter.cgroups.disk.operations', disk.discardOps, {
      ...base,
      'disk.io.direction': 'discard',
      'system.device': device,
    });
  }
  observe('inframeter.cgroups.task.count', stats.tasks, base);

  for (const { resource, pressure } of stats.pressure) {
    for (const scope of ['some', 'full'] as const) {
      const line = pressure[scope];
      if (line === undefined) continue;
      const attributes = {
        ...base,
        'inframeter.cgroups.pressure.resource': resource,
        'inframeter.cgroups.pressure.scope': scope,
      };
      observe('inframeter.cgroups.pressure.stall.time', line.totalUsec / 1e6, attributes);
      for (const [key, window] of WINDOWS) {
        observe('inframeter.cgroups.pressure.stall.ratio', line[key] / 100, {
          ...attributes,
          'inframeter.cgroups.pressure.window': window,
        });
      }
    }
  }

  for (const net of stats.network) {
    const rx = { ...base, 'network.interface.name': net.name, 'network.io.direction': 'receive' };
    const tx = { ...base, 'network.interface.name': net.name, 'network.io.direction': 'transmit' };
    observe('container.network.io', net.rxBytes, rx);
    observe('container.network.io', net.txBytes, tx);
    observe('inframeter.cgroups.network.packet.count', net.rxPackets, rx);
    observe('inframeter.cgroups.network.packet.count', net.txPackets, tx);
  }
}

/** The cgroups scraper with its instruments: what the scrape controller drives. */
export function createCgroupsScraper(
  config: Config,
  deps: CgroupsScraperDeps = {},
): Scraper & { snapshot(): Snapshot } {
  const scraper = new CgroupsScraper(config, deps);
  return {
    register(meter) {
      registerInstruments(meter, enabledMetrics(config), () => scraper.snapshot());
    },
    scrape: (signal) => scraper.scrape(signal),
    snapshot: () => scraper.snapshot(),
    shutdown: () => scraper.shutdown(),
  };
}

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
    register: (meter) => {
      scraper.register(meter);
    },
    shutdown: () => scraper.shutdown?.() ?? Promise.resolve(),
    async scrape(signal) {
      const report = await scraper.scrape(signal);
      // Logged once while the cap holds (the count itself is a metric), again after it stopped.
      if (scraper.snapshot().counts.over_limit > 0) {
        capLog.report(
          'max_cgroups',
          new Error(
            `more cgroups are selected than max_cgroups (${String(config.max_cgroups)}): the rest are not reported, see inframeter.cgroups.count{inframeter.cgroups.selection="over_limit"}`,
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
    async shutdown() {
      await receiver.shutdown();
      await pods?.stop();
    },
  };
}
