import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { InFlight, targetDeadline, withDeadline } from '../../kit/deadline.ts';
import { toError } from '../../kit/errors.ts';
import type { MetricObserver } from '../../kit/snapshot-set.ts';
import type { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import { SnapshotSet } from '../../kit/snapshot-set.ts';
import type { ConnectionOptions, HostStats, LibvirtConnection } from './client.ts';
import { endIdleThreads, openConnection } from './client.ts';
import type { LibvirtConfig } from './config.ts';
import { libvirtMetadata } from './metadata.ts';
import type { DomainStats } from './parse/stats.ts';

/** virDomainState. */
export const STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;

/** virNodeGetCPUStats' fields (`VIR_NODE_CPU_STATS_*`) → OpenTelemetry's `cpu.mode`. */
const HOST_CPU_MODES: Readonly<Record<string, string>> = {
  user: 'user',
  kernel: 'kernel',
  idle: 'idle',
  iowait: 'iowait',
  intr: 'interrupt',
};

interface Target {
  readonly uri: string;
  connection: LibvirtConnection | undefined;
  /** ms since the epoch before which no reconnection is tried. */
  retryAt: number;
  delay: number;
  up: boolean;
  domains: DomainStats[];
  host: HostStats | undefined;
  /** The error that took the connection down, repeated while waiting to reconnect. */
  lastError: Error | undefined;
}

/** A target that reports nothing this scrape (its `up` is 0). */
function markDown(t: Target): void {
  t.up = false;
  t.domains = [];
  t.host = undefined;
}

/** Not an attempt: the connection is waiting out its backoff. */
class Waiting extends Error {}

/**
 * Every connection collected at the same time, each with one bulk stats call; a
 * connection that fails is closed and reopened after a backoff, and never delays the
 * others (libvirt calls run on threads of their own, client.ts). Each target's open and
 * collection have a deadline shorter than the scrape's: a hypervisor that does not answer
 * in time has its connection ended (and quarantined in a process of its own) and is
 * reported down, while the others are exported. At most one call per target is in flight.
 */
export class LibvirtScraper implements Scraper {
  readonly #config: LibvirtConfig;
  readonly #open: (uri: string, options?: ConnectionOptions) => Promise<LibvirtConnection>;
  readonly #targets: Target[];
  readonly #inFlight = new InFlight();
  readonly #deadlineMs: number;
  /** The metrics, observed from the last scrape's targets when the scrape runner collects. */
  readonly metricProducer: SnapshotProducer;

  constructor(
    config: LibvirtConfig,
    open: (uri: string, options?: ConnectionOptions) => Promise<LibvirtConnection> = openConnection,
  ) {
    this.#config = config;
    this.metricProducer = new SnapshotSet(
      'inframeter/receiver/libvirt',
      libvirtMetadata.metrics,
      (m) => config.metrics.has(m.name),
      (s) => {
        this.#observe(s);
      },
    ).producer;
    this.#open = open;
    this.#deadlineMs = targetDeadline(config);
    this.#targets = config.uris.map((uri) => ({
      uri,
      connection: undefined,
      retryAt: 0,
      delay: config.reconnect_delay,
      up: false,
      domains: [],
      host: undefined,
      lastError: undefined,
    }));
  }

  #observe(s: MetricObserver): void {
    for (const t of this.#targets) {
      s.observe('inframeter.libvirt.up', t.up ? 1 : 0, { 'libvirt.uri': t.uri });
      if (t.host !== undefined) {
        s.observe('inframeter.libvirt.host.memory', t.host.memoryTotal, {
          'libvirt.uri': t.uri,
          'libvirt.memory.state': 'total',
        });
        s.observe('inframeter.libvirt.host.memory', t.host.memoryFree, {
          'libvirt.uri': t.uri,
          'libvirt.memory.state': 'free',
        });
        s.observe('inframeter.libvirt.host.cpu.count', t.host.cpus, { 'libvirt.uri': t.uri });
        for (const [name, ns] of Object.entries(t.host.cpuTimes ?? {})) {
          const mode = HOST_CPU_MODES[name];
          if (mode !== undefined)
            s.observe('inframeter.libvirt.host.cpu.time', ns / 1e9, {
              'libvirt.uri': t.uri,
              'cpu.mode': mode,
            });
        }
      }
      for (const d of t.domains) observeDomain(s, t.uri, d);
    }
  }

  async scrape(): Promise<ScrapeReport> {
    const errors = new Map<string, Error>();
    await Promise.all(
      this.#targets.map(async (t) => {
        if (this.#inFlight.busy(t.uri)) {
          // Still opening or collecting from an earlier scrape (a connection thread that
          // was slow to start): reported down, never a second call beside it.
          errors.set(t.uri, new Error(`${t.uri}: the previous call has not ended yet`));
          markDown(t);
          return;
        }
        const work = this.#inFlight.run(t.uri, () => this.#scrapeTarget(t));
        try {
          for (const [key, error] of await withDeadline(work, this.#deadlineMs, `${t.uri}: scrape`))
            errors.set(key, error);
        } catch (error) {
          errors.set(t.uri, toError(error));
          markDown(t);
        }
      }),
    );
    return { errors };
  }

  /**
   * Opens the target's connection if needed and collects it: the open and the collection
   * each within the target's deadline (the open's counted once its thread has started),
   * the connection ended when the collection is late. Never throws: its errors are
   * returned, and the target is marked down and its reconnection scheduled.
   */
  async #scrapeTarget(t: Target): Promise<Map<string, Error>> {
    const errors = new Map<string, Error>();
    try {
      if (t.connection === undefined) {
        if (Date.now() < t.retryAt) throw new Waiting();
        t.connection = await this.#open(t.uri, { deadlineMs: this.#deadlineMs });
        t.delay = this.#config.reconnect_delay;
      }
      const connection = t.connection;
      const {
        domains,
        host,
        errors: domainErrors,
      } = await withDeadline(connection.collect(), this.#deadlineMs, `${t.uri}: collecting`, () => {
        connection.abort();
      });
      for (const [key, error] of domainErrors) errors.set(key, error);
      t.domains = domains;
      t.host = host;
      t.up = true;
      t.lastError = undefined;
    } catch (error) {
      // While waiting to reconnect, the error that took the connection down stands (the
      // same message: logged once, counted every scrape).
      if (!(error instanceof Waiting)) t.lastError = toError(error);
      errors.set(t.uri, t.lastError ?? new Error(`${t.uri}: reconnecting`));
      markDown(t);
      const connection = t.connection;
      t.connection = undefined;
      if (connection !== undefined) await connection.close().catch(() => undefined);
      if (Date.now() >= t.retryAt) {
        t.retryAt = Date.now() + t.delay;
        t.delay = Math.min(t.delay * 2, this.#config.max_reconnect_delay);
      }
    }
    return errors;
  }

  async shutdown(): Promise<void> {
    for (const t of this.#targets) {
      const connection = t.connection;
      t.connection = undefined;
      if (connection !== undefined) await connection.close().catch(() => undefined);
      await endIdleThreads(t.uri);
    }
  }
}

/**
 * Observes one domain's statistics under the libvirt receiver's metric names; `extra` adds
 * attributes that say where the domain runs (the kubevirt receiver's VM and pod).
 */
export function observeDomain(s: MetricObserver, uri: string, d: DomainStats, extra: Attributes = {}): void {
  const base = {
    ...extra,
    'libvirt.domain.name': d.name,
    'libvirt.domain.uuid': d.uuid,
    'libvirt.uri': uri,
    ...(d.cloudstackInstance === undefined ? {} : { 'cloudstack.instance.name': d.cloudstackInstance }),
    ...(d.openstackInstance === undefined ? {} : { 'openstack.instance.name': d.openstackInstance }),
  };
  if (d.state !== undefined) {
    STATES.forEach((name, code) => {
      if (code > 0)
        s.observe('inframeter.libvirt.domain.state', d.state === code ? 1 : 0, {
          ...base,
          'libvirt.domain.state': name,
        });
    });
  }
  const ns = (v: number | undefined): number | undefined => (v === undefined ? undefined : v / 1e9);
  s.observe('inframeter.libvirt.domain.cpu.time', ns(d.cpuTime), { ...base, 'cpu.mode': 'total' });
  s.observe('inframeter.libvirt.domain.cpu.time', ns(d.cpuUser), { ...base, 'cpu.mode': 'user' });
  s.observe('inframeter.libvirt.domain.cpu.time', ns(d.cpuSystem), { ...base, 'cpu.mode': 'system' });
  s.observe('inframeter.libvirt.domain.vcpu.count', d.vcpuCount, base);
  for (const [n, t] of d.vcpuTimes)
    s.observe('inframeter.libvirt.domain.vcpu.time', t / 1e9, { ...base, 'libvirt.vcpu': n });
  const kib = (key: string): number | undefined => {
    const v = d.balloon.get(key);
    return v === undefined ? undefined : v * 1024;
  };
  for (const state of ['maximum', 'current', 'rss', 'available', 'usable', 'unused'])
    s.observe('inframeter.libvirt.domain.memory.usage', kib(state), {
      ...base,
      'libvirt.memory.state': state,
    });
  s.observe('inframeter.libvirt.domain.memory.swap', kib('swap_in'), {
    ...base,
    'libvirt.swap.direction': 'in',
  });
  s.observe('inframeter.libvirt.domain.memory.swap', kib('swap_out'), {
    ...base,
    'libvirt.swap.direction': 'out',
  });
  s.observe('inframeter.libvirt.domain.memory.faults', d.balloon.get('major_fault'), {
    ...base,
    'libvirt.fault.type': 'major',
  });
  s.observe('inframeter.libvirt.domain.memory.faults', d.balloon.get('minor_fault'), {
    ...base,
    'libvirt.fault.type': 'minor',
  });
  for (const [disk, f] of d.blocks) {
    const source = d.diskSources.get(disk);
    const a = {
      ...base,
      'libvirt.disk': disk,
      ...(source === undefined ? {} : { 'libvirt.disk.source': source }),
    };
    s.observe('inframeter.libvirt.domain.disk.io', f.get('rd.bytes'), { ...a, 'disk.io.direction': 'read' });
    s.observe('inframeter.libvirt.domain.disk.io', f.get('wr.bytes'), { ...a, 'disk.io.direction': 'write' });
    s.observe('inframeter.libvirt.domain.disk.operations', f.get('rd.reqs'), {
      ...a,
      'disk.io.direction': 'read',
    });
    s.observe('inframeter.libvirt.domain.disk.operations', f.get('wr.reqs'), {
      ...a,
      'disk.io.direction': 'write',
    });
    s.observe('inframeter.libvirt.domain.disk.operation_time', ns(f.get('rd.times')), {
      ...a,
      'disk.io.direction': 'read',
    });
    s.observe('inframeter.libvirt.domain.disk.operation_time', ns(f.get('wr.times')), {
      ...a,
      'disk.io.direction': 'write',
    });
    s.observe('inframeter.libvirt.domain.disk.errors', f.get('errors'), a);
    for (const kind of ['capacity', 'allocation', 'physical'])
      s.observe('inframeter.libvirt.domain.disk.size', f.get(kind), { ...a, 'libvirt.disk.size.kind': kind });
  }
  for (const [iface, f] of d.nets) {
    const mac = d.macs.get(iface);
    const a = {
      ...base,
      'network.interface.name': iface,
      ...(mac === undefined ? {} : { 'libvirt.mac': mac }),
    };
    for (const [dir, prefix] of [
      ['receive', 'rx'],
      ['transmit', 'tx'],
    ] as const) {
      const b = { ...a, 'network.io.direction': dir };
      s.observe('inframeter.libvirt.domain.network.io', f.get(`${prefix}.bytes`), b);
      s.observe('inframeter.libvirt.domain.network.packets', f.get(`${prefix}.pkts`), b);
      s.observe('inframeter.libvirt.domain.network.errors', f.get(`${prefix}.errs`), b);
      s.observe('inframeter.libvirt.domain.network.dropped', f.get(`${prefix}.drop`), b);
    }
  }
}
