import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { errorCode, toError } from '../../kit/errors.ts';
import { SnapshotProducer, valueTypeOfUnit } from '../../kit/snapshot-producer.ts';
import type { FsUsage, ProcfsClient } from './client.ts';
import type { ProcfsConfig } from './config.ts';
import { selected } from './config.ts';
import { procfsMetadata } from './metadata.ts';
import type { DiskStats } from './parse/diskstats.ts';
import { parseDiskstats } from './parse/diskstats.ts';
import type { Loadavg } from './parse/loadavg.ts';
import { parseLoadavg } from './parse/loadavg.ts';
import type { Meminfo } from './parse/meminfo.ts';
import { parseMeminfo } from './parse/meminfo.ts';
import type { Mount } from './parse/mounts.ts';
import { parseMounts } from './parse/mounts.ts';
import type { NetDevRecord } from '../../kit/procfs/net-dev.ts';
import { parseNetDev } from '../../kit/procfs/net-dev.ts';
import type { CpuMode, CpuTimes, ProcStat } from '../../kit/procfs/stat.ts';
import { CPU_MODES, parseStat } from '../../kit/procfs/stat.ts';
import { parseUptime } from './parse/uptime.ts';
import type { Vmstat } from './parse/vmstat.ts';
import { parseVmstat } from './parse/vmstat.ts';
import { ByteNames } from './parse/byte-names.ts';

/** USER_HZ: the unit of /proc/stat CPU times on every Linux architecture that matters. */
const USER_HZ = 100;
const SECTOR_BYTES = 512;
const VMSTAT_EVENTS = [
  'pgpgin',
  'pgpgout',
  'pswpin',
  'pswpout',
  'pgfree',
  'pgfault',
  'pgmajfault',
  'pgreuse',
];
const VMSTAT_PAGES = [
  'nr_active_anon',
  'nr_inactive_anon',
  'nr_active_file',
  'nr_inactive_file',
  'nr_mapped',
  'nr_dirty',
  'nr_writeback',
];
/** Semantic-convention names of the /proc/stat modes. */
const MODE_NAMES: Record<CpuMode, string> = {
  user: 'user',
  nice: 'nice',
  system: 'system',
  idle: 'idle',
  iowait: 'iowait',
  irq: 'interrupt',
  softirq: 'softirq',
  steal: 'steal',
  guest: 'guest',
  guest_nice: 'guest_nice',
};

/**
 * An attribute set of this receiver, frozen: a set never changes once made, and a frozen set
 * is one whose text an exporter may keep across batches (the csv exporter's cells).
 */
function frozen<T extends Attributes>(attributes: T): Readonly<T> {
  return Object.freeze(attributes);
}

/** One attribute set per key. */
function setsByKey<K extends string>(
  keys: readonly K[],
  build: (key: K) => Attributes,
): Record<K, Attributes> {
  const sets = {} as Record<K, Attributes>;
  for (const key of keys) sets[key] = frozen(build(key));
  return sets;
}

/** Attribute sets that never change: the same objects every scrape. */
const NO_ATTRIBUTES: Attributes = frozen({});
const PROCESS_RUNNING: Attributes = frozen({ 'process.status': 'running' });
const PROCESS_BLOCKED: Attributes = frozen({ 'process.status': 'blocked' });
const MEMORY_STATES = [
  'used',
  'free',
  'buffers',
  'cached',
  'slab_reclaimable',
  'slab_unreclaimable',
] as const;
type MemoryState = (typeof MEMORY_STATES)[number];
const MEMORY_STATE = setsByKey(MEMORY_STATES, (state) => ({ 'system.memory.state': state }));
const SWAP_USED: Attributes = frozen({ 'system.paging.state': 'used' });
const SWAP_FREE: Attributes = frozen({ 'system.paging.state': 'free' });
const PAGING_OPERATIONS = [
  ['pswpin', frozen({ 'system.paging.direction': 'in', 'system.paging.type': 'major' })],
  ['pswpout', frozen({ 'system.paging.direction': 'out', 'system.paging.type': 'major' })],
  ['pgpgin', frozen({ 'system.paging.direction': 'in', 'system.paging.type': 'minor' })],
  ['pgpgout', frozen({ 'system.paging.direction': 'out', 'system.paging.type': 'minor' })],
] as const;
const FAULTS_MAJOR: Attributes = frozen({ 'system.paging.type': 'major' });
const FAULTS_MINOR: Attributes = frozen({ 'system.paging.type': 'minor' });
/** The /proc/meminfo keys the scraper reads; the file's other lines are only checked. */
const MEMINFO_NAMES = new ByteNames([
  'MemTotal',
  'MemFree',
  'Buffers',
  'Cached',
  'SReclaimable',
  'SUnreclaim',
  'MemAvailable',
  'Shmem',
  'SwapTotal',
  'SwapFree',
]);
/** The /proc/vmstat counters the scraper reads; the file's other lines are only checked. */
const VMSTAT_NAMES = new ByteNames([
  ...PAGING_OPERATIONS.map(([key]) => key),
  'pgfault',
  'pgmajfault',
  ...VMSTAT_EVENTS,
  ...VMSTAT_PAGES,
]);
const VMSTAT_EVENT_SETS = VMSTAT_EVENTS.map((key) => [key, frozen({ 'vmstat.counter': key })] as const);
const VMSTAT_PAGE_SETS = VMSTAT_PAGES.map((key) => [key, frozen({ 'vmstat.counter': key })] as const);

/** The attribute sets of one disk, one interface, one filesystem. */
interface DiskSets {
  readonly device: Attributes;
  readonly read: Attributes;
  readonly write: Attributes;
}
interface InterfaceSets {
  readonly name: Attributes;
  readonly rx: Attributes;
  readonly tx: Attributes;
}
interface FilesystemSets {
  readonly base: Attributes;
  readonly used: Attributes;
  readonly free: Attributes;
  readonly reserved: Attributes;
}

/**
 * Attribute objects kept per device between scrapes, so that the producer finds each series
 * by object identity; a device not seen in a scrape is forgotten.
 */
class SetCache<T> {
  #current = new Map<string, T>();
  #next = new Map<string, T>();

  get(key: string, build: () => T): T {
    let sets = this.#next.get(key);
    if (sets === undefined) {
      sets = this.#current.get(key) ?? build();
      this.#next.set(key, sets);
    }
    return sets;
  }

  /** Ends a scrape: what was not asked for since the last call is dropped. */
  turn(): void {
    this.#current = this.#next;
    this.#next = new Map();
  }
}

interface FilesystemSample {
  readonly mount: Mount;
  readonly usage: FsUsage;
}

/** What one scrape read: each part undefined when its source failed or is switched off. */
interface Snapshot {
  stat?: ProcStat | undefined;
  utilization?: Map<number, Map<CpuMode, number>> | undefined;
  loadavg?: Loadavg | undefined;
  uptime?: number | undefined;
  meminfo?: Meminfo | undefined;
  vmstat?: Vmstat | undefined;
  disks?: DiskStats[] | undefined;
  interfaces?: NetDevRecord[] | undefined;
  filesystems?: FilesystemSample[] | undefined;
}

/** Share of each mode in the ticks between two readings of one CPU. */
function utilizationOf(previous: CpuTimes, current: CpuTimes): Map<CpuMode, number> {
  const deltas = new Map<CpuMode, number>();
  let total = 0;
  for (const mode of CPU_MODES) {
    // guest and guest_nice are already counted in user and nice.
    const delta = Math.max(0, (current.ticks[mode] ?? 0) - (previous.ticks[mode] ?? 0));
    deltas.set(mode, delta);
    if (mode !== 'guest' && mode !== 'guest_nice') total += delta;
  }
  const out = new Map<CpuMode, number>();
  if (total > 0) for (const [mode, delta] of deltas) out.set(mode, delta / total);
  return out;
}

/**
 * Reads /proc (stat, loadavg, uptime, meminfo, vmstat, diskstats, net/dev, mounts) and statfs
 * of each mounted filesystem into a snapshot. Each source is read on its own: a failure is
 * reported under its path and the others are still exported.
 */
/** Interface counters of the host's network namespace: PID 1's, under the root path. */
const HOST_NET_DEV = 'proc/1/net/dev';
/** Interface counters of the collector's own network namespace. */
const OWN_NET_DEV = 'proc/net/dev';

export class ProcfsScraper implements Scraper {
  readonly #client: ProcfsClient;
  readonly #config: ProcfsConfig;
  #snapshot: Snapshot = {};
  #previousCpus = new Map<number, CpuTimes>();
  /** Per logical CPU, the attribute set of each mode. */
  readonly #cpuSets = new Map<number, Record<CpuMode, Attributes>>();
  readonly #diskSets = new SetCache<DiskSets>();
  readonly #interfaceSets = new SetCache<InterfaceSets>();
  readonly #filesystemSets = new SetCache<FilesystemSets>();
  /** A copy of the bytes of the last mount table read (the client's buffer is reused). */
  #mountsBytes: Buffer | undefined;
  /** The mounts of the last mount table read whose filesystems are measured. */
  #mounts: Mount[] = [];
  /** The boot time (seconds since the epoch) of /proc/stat `btime`: the start of every sum. */
  #bootTime: number | undefined;
  /**
   * The metrics, published through an SDK metric producer rather than observable instruments:
   * the producer finds a series by its attribute object, kept here between scrapes, where the
   * SDK's instruments hash every observation's attributes (see kit/snapshot-producer.ts).
   */
  readonly metricProducer: SnapshotProducer;

  constructor(client: ProcfsClient, config: ProcfsConfig) {
    this.#client = client;
    this.#config = config;
    this.metricProducer = new SnapshotProducer(
      'inframeter/receiver/procfs',
      procfsMetadata.metrics,
      (m) => config.metrics.has(m.name),
      (producer) => {
        this.#observe(producer);
      },
      valueTypeOfUnit,
      // Every sum here counts since boot: it starts at the boot time (/proc/stat btime).
      () => (this.#bootTime === undefined ? undefined : [this.#bootTime, 0]),
    );
  }

  scrape(): Promise<ScrapeReport> {
    const errors = new Map<string, Error>();
    const snapshot: Snapshot = {};
    const read = <T>(path: string, parse: (text: string) => T): T | undefined => {
      try {
        return parse(this.#client.read(path));
      } catch (error) {
        errors.set(this.#where(path), toError(error));
        return undefined;
      }
    };
    const m = this.#config.groups;
    if (m.cpu.enabled || m.processes.enabled || this.#bootTime === undefined) {
      snapshot.stat = read('proc/stat', parseStat);
      this.#bootTime ??= snapshot.stat?.bootTime;
      if (snapshot.stat !== undefined) {
        const utilization = new Map<number, Map<CpuMode, number>>();
        const current = new Map<number, CpuTimes>();
        for (const cpu of snapshot.stat.cpus) {
          current.set(cpu.cpu, cpu);
          const previous = this.#previousCpus.get(cpu.cpu);
          if (previous !== undefined) utilization.set(cpu.cpu, utilizationOf(previous, cpu));
        }
        this.#previousCpus = current;
        snapshot.utilization = utilization;
      }
    }
    if (m.load.enabled) snapshot.loadavg = read('proc/loadavg', parseLoadavg);
    if (m.uptime.enabled) snapshot.uptime = read('proc/uptime', parseUptime);
    if (m.memory.enabled) {
      snapshot.meminfo = this.#readBytes('proc/meminfo', errors, (bytes) =>
        parseMeminfo(bytes, MEMINFO_NAMES),
      );
    }
    if (m.paging.enabled) {
      snapshot.vmstat = this.#readBytes('proc/vmstat', errors, (bytes) => parseVmstat(bytes, VMSTAT_NAMES));
    }
    if (m.disk.enabled) {
      snapshot.disks = read('proc/diskstats', parseDiskstats)?.filter((d) =>
        selected(d.name, m.disk.include, m.disk.exclude),
      );
    }
    if (m.network.enabled) {
      snapshot.interfaces = this.#readInterfaces(errors)?.filter((i) =>
        selected(i.name, m.network.include, m.network.exclude),
      );
    }
    if (m.filesystem.enabled) snapshot.filesystems = this.#readFilesystems(errors);
    this.#snapshot = snapshot;
    return Promise.resolve({ errors });
  }

  shutdown(): Promise<void> {
    this.#client.close?.();
    return Promise.resolve();
  }

  /**
   * Parses the bytes of `path` (the client's buffer, when it reads bytes); an error is noted
   * in `errors` under the path.
   */
  #readBytes<T>(path: string, errors: Map<string, Error>, parse: (bytes: Uint8Array) => T): T | undefined {
    try {
      const client = this.#client;
      return parse(client.readBytes?.(path) ?? Buffer.from(client.read(path), 'latin1'));
    } catch (error) {
      errors.set(this.#where(path), toError(error));
      return undefined;
    }
  }

  /** The path of a source as the host sees it, for error reports. */
  #where(path: string): string {
    return `${this.#config.root_path.replace(/\/$/, '')}/${path}`;
  }

  /**
   * The host's interfaces: those of PID 1's network namespace (`proc/1/net/dev`), whatever
   * namespace the collector itself runs in. `/proc/net/dev` is the reader's own namespace,
   * which in a pod is the pod's. When PID 1 is hidden from this process (`hidepid`, a
   * procfs of another PID namespace), the collector's own namespace is read instead.
   */
  #readInterfaces(errors: Map<string, Error>): NetDevRecord[] | undefined {
    let text: string;
    try {
      text = this.#client.read(HOST_NET_DEV);
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'ENOENT' && code !== 'EACCES') {
        errors.set(this.#where(HOST_NET_DEV), toError(error));
        return undefined;
      }
      try {
        text = this.#client.read(OWN_NET_DEV);
      } catch (ownError) {
        errors.set(this.#where(OWN_NET_DEV), toError(ownError));
        return undefined;
      }
      return this.#parseInterfaces(text, OWN_NET_DEV, errors);
    }
    return this.#parseInterfaces(text, HOST_NET_DEV, errors);
  }

  #parseInterfaces(text: string, path: string, errors: Map<string, Error>): NetDevRecord[] | undefined {
    try {
      return parseNetDev(text, `/${path}`);
    } catch (error) {
      errors.set(this.#where(path), toError(error));
      return undefined;
    }
  }

  #readFilesystems(errors: Map<string, Error>): FilesystemSample[] | undefined {
    // Inside a container, /proc/self/mounts is the container's view; the host's is PID 1's.
    const mountsPath = this.#config.root_path === '/' ? 'proc/self/mounts' : 'proc/1/mounts';
    let mounts: Mount[];
    try {
      // The mount table seldom changes: it is decoded, parsed and filtered again only when its
      // bytes did (mount points are UTF-8).
      const client = this.#client;
      const bytes = client.readBytes?.(mountsPath) ?? Buffer.from(client.read(mountsPath), 'utf8');
      if (this.#mountsBytes?.equals(bytes) !== true) {
        const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
        this.#mounts = this.#selectedMounts(parseMounts(text, `/${mountsPath}`));
        this.#mountsBytes = Buffer.from(bytes);
      }
      mounts = this.#mounts;
    } catch (error) {
      errors.set(this.#where(mountsPath), toError(error));
      return undefined;
    }
    const samples: FilesystemSample[] = [];
    for (const mount of mounts) {
      try {
        samples.push({ mount, usage: this.#client.statfs(mount.mountpoint) });
      } catch (error) {
        // A mount that went away between reading the list and statfs is not an error.
        if (errorCode(error) !== 'ENOENT') errors.set(`statfs ${mount.mountpoint}`, toError(error));
      }
    }
    return samples;
  }

  /** The mounts whose filesystems are measured: the first of each mount point, passing the filters. */
  #selectedMounts(mounts: readonly Mount[]): Mount[] {
    const fs = this.#config.groups.filesystem;
    const out: Mount[] = [];
    const seen = new Set<string>();
    for (const mount of mounts) {
      if (seen.has(mount.mountpoint)) continue;
      seen.add(mount.mountpoint);
      if (!selected(mount.type, fs.include_types, fs.exclude_types)) continue;
      if (!selected(mount.mountpoint, fs.include_mountpoints, fs.exclude_mountpoints)) continue;
      out.push(mount);
    }
    return out;
  }

  #observe(s: SnapshotProducer): void {
    const snap = this.#snapshot;
    const stat = snap.stat;
    if (stat !== undefined) {
      for (const cpu of stat.cpus) {
        const sets = this.#cpuSetsOf(cpu.cpu);
        for (const mode of CPU_MODES) {
          const ticks = cpu.ticks[mode];
          if (ticks !== undefined) {
            s.observe('system.cpu.time', ticks / USER_HZ, sets[mode]);
          }
        }
        for (const [mode, share] of snap.utilization?.get(cpu.cpu) ?? []) {
          s.observe('system.cpu.utilization', share, sets[mode]);
        }
      }
      s.observe('system.cpu.logical.count', stat.cpus.length, NO_ATTRIBUTES);
      s.observe('inframeter.procfs.context_switches', stat.contextSwitches, NO_ATTRIBUTES);
      s.observe('inframeter.procfs.interrupts', stat.interrupts, NO_ATTRIBUTES);
      s.observe('inframeter.procfs.soft_interrupts', stat.softInterrupts, NO_ATTRIBUTES);
      s.observe('system.process.created', stat.forks, NO_ATTRIBUTES);
      s.observe('system.process.count', stat.procsRunning, PROCESS_RUNNING);
      s.observe('system.process.count', stat.procsBlocked, PROCESS_BLOCKED);
    }
    if (snap.loadavg !== undefined) {
      s.observe('system.cpu.load_average.1m', snap.loadavg.one, NO_ATTRIBUTES);
      s.observe('system.cpu.load_average.5m', snap.loadavg.five, NO_ATTRIBUTES);
      s.observe('system.cpu.load_average.15m', snap.loadavg.fifteen, NO_ATTRIBUTES);
    }
    s.observe('system.uptime', snap.uptime, NO_ATTRIBUTES);
    if (snap.meminfo !== undefined) this.#observeMemory(s, snap.meminfo);
    if (snap.vmstat !== undefined) this.#observePaging(s, snap.vmstat);
    for (const d of snap.disks ?? []) this.#observeDisk(s, d);
    for (const i of snap.interfaces ?? []) this.#observeInterface(s, i);
    for (const f of snap.filesystems ?? []) this.#observeFilesystem(s, f);
    this.#diskSets.turn();
    this.#interfaceSets.turn();
    this.#filesystemSets.turn();
  }

  #cpuSetsOf(cpu: number): Record<CpuMode, Attributes> {
    let sets = this.#cpuSets.get(cpu);
    if (sets === undefined) {
      sets = setsByKey(CPU_MODES, (mode) => ({ 'cpu.logical_number': cpu, 'cpu.mode': MODE_NAMES[mode] }));
      this.#cpuSets.set(cpu, sets);
    }
    return sets;
  }

  #observeMemory(s: SnapshotProducer, mem: Meminfo): void {
    const total = mem.get('MemTotal') ?? 0;
    const free = mem.get('MemFree') ?? 0;
    const buffers = mem.get('Buffers') ?? 0;
    const cached = mem.get('Cached') ?? 0;
    const slabReclaimable = mem.get('SReclaimable') ?? 0;
    const states: [MemoryState, number][] = [
      ['used', total - free - buffers - cached - slabReclaimable],
      ['free', free],
      ['buffers', buffers],
      ['cached', cached],
      ['slab_reclaimable', slabReclaimable],
      ['slab_unreclaimable', mem.get('SUnreclaim') ?? 0],
    ];
    for (const [state, bytes] of states) {
      s.observe('system.memory.usage', bytes, MEMORY_STATE[state]);
      if (total > 0) s.observe('system.memory.utilization', bytes / total, MEMORY_STATE[state]);
    }
    s.observe('system.memory.limit', total, NO_ATTRIBUTES);
    s.observe('system.memory.linux.available', mem.get('MemAvailable'), NO_ATTRIBUTES);
    s.observe('system.memory.linux.shared', mem.get('Shmem'), NO_ATTRIBUTES);
    const swapTotal = mem.get('SwapTotal');
    const swapFree = mem.get('SwapFree');
    if (swapTotal !== undefined && swapFree !== undefined) {
      s.observe('system.paging.usage', swapTotal - swapFree, SWAP_USED);
      s.observe('system.paging.usage', swapFree, SWAP_FREE);
    }
  }

  #observePaging(s: SnapshotProducer, vm: Vmstat): void {
    for (const [key, attributes] of PAGING_OPERATIONS)
      s.observe('system.paging.operations', vm.get(key), attributes);
    const faults = vm.get('pgfault');
    const major = vm.get('pgmajfault');
    s.observe('system.paging.faults', major, FAULTS_MAJOR);
    if (faults !== undefined && major !== undefined)
      s.observe('system.paging.faults', faults - major, FAULTS_MINOR);
    for (const [key, attributes] of VMSTAT_EVENT_SETS)
      s.observe('inframeter.procfs.vmstat.events', vm.get(key), attributes);
    for (const [key, attributes] of VMSTAT_PAGE_SETS)
      s.observe('inframeter.procfs.vmstat.pages', vm.get(key), attributes);
  }

  #observeDisk(s: SnapshotProducer, d: DiskStats): void {
    const { device, read, write } = this.#diskSets.get(d.name, () => ({
      device: frozen({ 'system.device': d.name }),
      read: frozen({ 'system.device': d.name, 'disk.io.direction': 'read' }),
      write: frozen({ 'system.device': d.name, 'disk.io.direction': 'write' }),
    }));
    s.observe('system.disk.io', d.sectorsRead * SECTOR_BYTES, read);
    s.observe('system.disk.io', d.sectorsWritten * SECTOR_BYTES, write);
    s.observe('system.disk.operations', d.readsCompleted, read);
    s.observe('system.disk.operations', d.writesCompleted, write);
    s.observe('system.disk.operation_time', d.readTimeMs / 1000, read);
    s.observe('system.disk.operation_time', d.writeTimeMs / 1000, write);
    s.observe('system.disk.merged', d.readsMerged, read);
    s.observe('system.disk.merged', d.writesMerged, write);
    s.observe('system.disk.io_time', d.ioTimeMs / 1000, device);
    s.observe('system.disk.pending_operations', d.inFlight, device);
    s.observe('inframeter.procfs.disk.weighted_io_time', d.weightedIoTimeMs / 1000, device);
    if (d.discards !== undefined) {
      s.observe('inframeter.procfs.disk.discard.operations', d.discards.completed, device);
      s.observe('inframeter.procfs.disk.discard.merged', d.discards.merged, device);
      s.observe('inframeter.procfs.disk.discard.io', d.discards.sectors * SECTOR_BYTES, device);
      s.observe('inframeter.procfs.disk.discard.time', d.discards.timeMs / 1000, device);
    }
    if (d.flushes !== undefined) {
      s.observe('inframeter.procfs.disk.flush.operations', d.flushes.completed, device);
      s.observe('inframeter.procfs.disk.flush.time', d.flushes.timeMs / 1000, device);
    }
  }

  #observeInterface(s: SnapshotProducer, i: NetDevRecord): void {
    const { name, rx, tx } = this.#interfaceSets.get(i.name, () => ({
      name: frozen({ 'network.interface.name': i.name }),
      rx: frozen({ 'network.interface.name': i.name, 'network.io.direction': 'receive' }),
      tx: frozen({ 'network.interface.name': i.name, 'network.io.direction': 'transmit' }),
    }));
    s.observe('system.network.io', i.rx.bytes, rx);
    s.observe('system.network.io', i.tx.bytes, tx);
    s.observe('system.network.packet.count', i.rx.packets, rx);
    s.observe('system.network.packet.count', i.tx.packets, tx);
    s.observe('system.network.errors', i.rx.errs, rx);
    s.observe('system.network.errors', i.tx.errs, tx);
    s.observe('system.network.packet.dropped', i.rx.drop, rx);
    s.observe('system.network.packet.dropped', i.tx.drop, tx);
    s.observe('inframeter.procfs.network.fifo_errors', i.rx.fifo, rx);
    s.observe('inframeter.procfs.network.fifo_errors', i.tx.fifo, tx);
    s.observe('inframeter.procfs.network.compressed', i.rx.compressed, rx);
    s.observe('inframeter.procfs.network.compressed', i.tx.compressed, tx);
    s.observe('inframeter.procfs.network.frame_errors', i.rx.frame, name);
    s.observe('inframeter.procfs.network.multicast', i.rx.multicast, name);
    s.observe('inframeter.procfs.network.collisions', i.tx.colls, name);
    s.observe('inframeter.procfs.network.carrier_errors', i.tx.carrier, name);
  }

  #observeFilesystem(s: SnapshotProducer, { mount, usage }: FilesystemSample): void {
    const key = `${mount.device}\0${mount.mountpoint}\0${mount.type}\0${mount.mode}`;
    const {
      base,
      used: usedSet,
      free,
      reserved: reservedSet,
    } = this.#filesystemSets.get(key, () => {
      const base = {
        'system.device': mount.device,
        'system.filesystem.mountpoint': mount.mountpoint,
        'system.filesystem.type': mount.type,
        'system.filesystem.mode': mount.mode,
      };
      return {
        base: frozen(base),
        used: frozen({ ...base, 'system.filesystem.state': 'used' }),
        free: frozen({ ...base, 'system.filesystem.state': 'free' }),
        reserved: frozen({ ...base, 'system.filesystem.state': 'reserved' }),
      };
    });
    const used = usage.totalBytes - usage.freeBytes;
    const reserved = usage.freeBytes - usage.availableBytes;
    s.observe('system.filesystem.usage', used, usedSet);
    s.observe('system.filesystem.usage', usage.availableBytes, free);
    s.observe('system.filesystem.usage', reserved, reservedSet);
    if (used + usage.availableBytes > 0)
      s.observe('system.filesystem.utilization', used / (used + usage.availableBytes), base);
    s.observe('system.filesystem.inodes.usage', usage.inodes - usage.freeInodes, usedSet);
    s.observe('system.filesystem.inodes.usage', usage.freeInodes, free);
  }
}
