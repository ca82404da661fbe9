import type { Attributes, Meter } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../service/component.ts';
import { toError } from '../../service/errors.ts';
import { ObservableSet } from '../../service/instruments.ts';
import type { HostStats, LibvirtConnection } from './client.ts';
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

/** Not an attempt: the connection is waiting out its backoff. */
class Waiting extends Error {}

/**
 * Every connection collected at the same time, each with one bulk stats call; a
 * connection that fails is closed and reopened after a backoff, and never delays the
 * others (libvirt calls run on worker threads).
 */
export class LibvirtScraper implements Scraper {
  readonly #config: LibvirtConfig;
  readonly #open: (uri: string) => Promise<LibvirtConnection>;
  readonly #targets: Target[];

  constructor(config: LibvirtConfig, open = openConnection) {
    this.#config = config;
    this.#open = open;
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

  register(meter: Meter): void {
    const set = new ObservableSet(meter, libvirtMetadata.metrics, () => true);
    set.register(meter, (s) => {
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
        }
        for (const d of t.domains) observeDomain(s, t.uri, d);
      }
    });
  }

  async scrape(): Promise<ScrapeReport> {
    const errors = new Map<string, Error>();
    await Promise.all(
      this.#targets.map(async (t) => {
        try {
          if (t.connection === undefined) {
            if (Date.now() < t.retryAt) throw new Waiting();
            t.connection = await this.#open(t.uri);
            t.delay = this.#config.reconnect_delay;
          }
          const { domains, host, errors: domainErrors } = await t.connection.collect();
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
          t.up = false;
          t.domains = [];
          t.host = undefined;
          const connection = t.connection;
          t.connection = undefined;
          if (connection !== undefined) await connection.close().catch(() => undefined);
          if (Date.now() >= t.retryAt) {
            t.retryAt = Date.now() + t.delay;
            t.delay = Math.min(t.delay * 2, this.#config.max_reconnect_delay);
          }
        }
      }),
    );
    return { errors };
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
export function observeDomain(s: ObservableSet, uri: string, d: DomainStats, extra: Attributes = {}): void {
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
    const a = { ...base, 'libvirt.disk': disk };
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
