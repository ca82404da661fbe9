import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { ScrapeError, toError } from '../../kit/errors.ts';
import { AttributeTree } from './attribute-tree.ts';
import type { CgroupFsClient, DirEntries } from './client.ts';
import { createCgroupFsClient } from './client.ts';
import type { Config } from './config.ts';
import { matchesAny } from './glob.ts';
import type { PodMetadataSource } from './kubernetes-client.ts';
import { enabledMetrics } from './enabled.ts';
import { parseBlkioStat } from './parse/blkio.ts';
import type { CgroupIdentity } from './parse/cgroup-path.ts';
import { parseCgroupPath } from './parse/cgroup-path.ts';
import { FlatKeyedReader, parseFlatKeyed } from './parse/flat-keyed.ts';
import { parseIoStat } from './parse/io-stat.ts';
import type { CgroupHierarchies, CgroupLayout } from './parse/mounts.ts';
import { parseCgroupMounts, resolveHierarchies, V1_CONTROLLERS } from './parse/mounts.ts';
import { parseNamespaceLink } from './parse/namespace.ts';
import { parsePressure } from './parse/pressure.ts';
import { parseFirstPid } from './parse/procs.ts';
import { parseLimit, parseSingleValue } from './parse/single-value.ts';
import { parseUeventDevname } from './parse/uevent.ts';
import { parseNetworkStats } from './network.ts';
import { createProducer } from './producer.ts';
import type { CgroupEntry, Snapshot } from './snapshot.ts';
import type { CgroupStats, DiskStats } from './stats.ts';
import {
  applyCpuacctStat,
  applyCpuStatV1,
  applyCpuStatV2,
  applyMemoryEvents,
  applyMemoryStat,
  CPU_STAT_KEYS,
  CPUACCT_STAT_KEYS,
  createStats,
  finishMemory,
  MEMORY_STAT_KEYS,
} from './stats.ts';

/**
 * Reads every selected cgroup once per scrape into a snapshot: detects the layout from the
 * mount table, walks each hierarchy once, merges the hierarchies by cgroup path, selects, reads
 * the files each controller offers, and keeps per-cgroup state (identity, previous CPU time)
 * between scrapes.
 */

/** What the scraper is given besides its config. */
export interface CgroupsScraperDeps {
  readonly client?: CgroupFsClient;
  /** Pod metadata (the Kubernetes API watch), when enrichment is on. */
  readonly pods?: PodMetadataSource;
  /** Monotonic clock in milliseconds, for CPU usage between scrapes. */
  readonly now?: () => number;
}

/** One hierarchy to walk: the unified tree or one v1 mount (possibly several controllers). */
interface Hierarchy {
  readonly version: 1 | 2;
  /** Absolute directory of the hierarchy's root cgroup, root_path included. */
  readonly dir: string;
  readonly controllers: ReadonlySet<string>;
}

/** A cgroup directory in one hierarchy, with the files it offers. */
interface Source {
  readonly hierarchy: Hierarchy;
  readonly dir: string;
  readonly files: ReadonlySet<string>;
  /** The path of each file read here, made once (see {@link Listing}). */
  readonly paths: Map<string, string>;
}

/**
 * What is kept about a directory of a hierarchy between scrapes: its listing, and the paths
 * made from it (of its files, of its subdirectories and their cgroups), made once rather
 * than concatenated again on every scrape.
 */
interface Listing {
  entries: DirEntries;
  seen: number;
  readonly paths: Map<string, string>;
  /** Subdirectory name → its cgroup path and its directory. */
  readonly children: Map<string, readonly [string, string]>;
}

/** A cgroup path found by the walk, with its directory in each hierarchy holding it. */
interface WalkedCgroup {
  readonly path: string;
  readonly sources: Source[];
}

/** What is kept about a cgroup between scrapes. */
interface CgroupState {
  readonly identity: CgroupIdentity;
  /** Path globs and kind filter, fixed for a path. */
  readonly pathSelected: boolean;
  attributes?: Attributes;
  series?: AttributeTree;
  attributesVersion: number;
  previousCpu?: { usageSec: number; atMs: number } | undefined;
  seen: number;
}

/**
 * v1 controllers whose hierarchies are walked: those this receiver reads, and those batch
 * schedulers may put a job in alone (OAR: cpuset and freezer; Slurm's task/cgroup plugin:
 * any of them), so that a job is found in whichever hierarchy holds it.
 */
const READ_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'cpuset', 'freezer'] as const;
const YIELD_EVERY = 200;
const PRESSURE_FILES = (['cpu', 'memory', 'io'] as const).map(
  (resource) => [resource, `${resource}.pressure`] as const,
);
const PID_HEAD_BYTES = 32;
/** Thrown inside a scrape when a cgroup disappears while being read; one instance, never escapes. */
const VANISHED = new Error('cgroup removed while being read');

const EMPTY: Snapshot = {
  cgroups: [],
  layout: undefined,
  counts: { exported: 0, over_limit: 0, vanished: 0 },
};

/**
 * Compares cgroup paths so that a cgroup comes right before its descendants (`/a`, `/a/b`,
 * `/a-b`): `/` sorts before every other character.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 47) return -1;
    if (y === 47) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/** Reads the cgroups into a {@link Snapshot}; producer.ts publishes it. */
export class CgroupsScraper {
  readonly #config: Config;
  readonly #client: CgroupFsClient;
  readonly #pods: PodMetadataSource | undefined;
  readonly #now: () => number;
  readonly #root: string;
  readonly #groups: ReadonlySet<string>;
  readonly #states = new Map<string, CgroupState>();
  readonly #devices = new Map<string, string>();
  /** Each directory's listing of the last scrape that listed it. */
  readonly #listings = new Map<string, Listing>();
  #hostNetns: number | undefined;
  #snapshot: Snapshot = EMPTY;
  #scrapes = 0;
  // Readers of the flat keyed files read from every cgroup, reused from cgroup to cgroup.
  readonly #cpuStat = readerOf(CPU_STAT_KEYS);
  readonly #cpuacctStat = readerOf(CPUACCT_STAT_KEYS);
  readonly #memoryStat = readerOf(MEMORY_STAT_KEYS);

  constructor(config: Config, deps: CgroupsScraperDeps = {}) {
    this.#config = config;
    this.#client = deps.client ?? createCgroupFsClient();
    this.#pods = deps.pods;
    this.#now = deps.now ?? (() => performance.now());
    this.#root = config.root_path.replace(/\/+$/, '');
    this.#groups = new Set(enabledMetrics(config).map((m) => m.group));
  }

  /** What the last scrape read. */
  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Reads every selected cgroup once; per-file errors are reported, not thrown. */
  async scrape(signal: AbortSignal): Promise<ScrapeReport> {
    this.#scrapes += 1;
    const errors = new Map<string, Error>();
    const hierarchies = this.#detect(errors);
    if (hierarchies === undefined) {
      this.#snapshot = EMPTY;
      throw new ScrapeError(1, `no cgroup hierarchy found under ${this.#path('/sys/fs/cgroup')}`, {
        cause: errors.values().next().value,
      });
    }
    const walked = this.#walk(hierarchies.list, errors);
    const counts = { exported: 0, over_limit: 0, vanished: 0 };
    const entries: CgroupEntry[] = [];
    const pids = new Map<string, number | undefined>();
    const network = this.#groups.has('network');
    let index = -1;
    for (const cgroup of walked) {
      index += 1;
      if (index % YIELD_EVERY === YIELD_EVERY - 1) {
        // Let the scrape's timeout fire between batches of synchronous reads.
        await new Promise<void>((resolve) => setImmediate(resolve));
        signal.throwIfAborted();
      }
      const state = this.#state(cgroup.path);
      state.seen = this.#scrapes;
      if (!state.pathSelected) continue;
      const attributes = this.#attributes(cgroup.path, state);
      if (!this.#runtimeSelected(attributes)) continue;
      if (entries.length >= this.#config.max_cgroups) {
        counts.over_limit += 1;
        continue;
      }
      try {
        const stats = this.#read(cgroup, errors);
        if (network) pids.set(cgroup.path, this.#firstPid(cgroup, errors));
        this.#cpuUsage(state, stats);
        entries.push({
          path: cgroup.path,
          attributes,
          series: state.series ?? new AttributeTree(attributes),
          stats,
        });
      } catch (error) {
        if (error !== VANISHED) throw error;
        counts.vanished += 1;
        state.previousCpu = undefined;
      }
    }
    counts.exported = entries.length;
    if (network) this.#readNetwork(entries, walked, pids, errors);
    for (const [path, state] of this.#states) if (state.seen !== this.#scrapes) this.#states.delete(path);
    this.#snapshot = { cgroups: entries, layout: hierarchies.layout, counts };
    return { errors };
  }

  /** Stops the pod watch, if any. */
  async shutdown(): Promise<void> {
    await this.#pods?.stop();
  }

  #path(absolute: string): string {
    return `${this.#root}${absolute}`;
  }

  /** The hierarchies to walk, from the mount table or, failing that, the file system. */
  #detect(errors: Map<string, Error>): { layout: CgroupLayout; list: Hierarchy[] } | undefined {
    let resolved: CgroupHierarchies | undefined;
    const layout = this.#config.layout;
    if (layout === 'auto') {
      const tables = this.#root === '' ? ['/proc/1/mounts', '/proc/self/mounts'] : ['/proc/1/mounts'];
      for (const table of tables) {
        const path = this.#path(table);
        try {
          const text = this.#client.readText(path);
          if (text === undefined) continue;
          resolved = resolveHierarchies(parseCgroupMounts(text, path));
        } catch (error) {
          errors.set(path, toError(error));
        }
        if (resolved !== undefined) break;
      }
      resolved ??= this.#probe();
      if (resolved !== undefined)
        for (const key of errors.keys()) if (key.endsWith('/mounts')) errors.delete(key);
    } else {
      resolved = this.#probe(layout);
    }
    if (resolved === undefined) return undefined;
    const list: Hierarchy[] = [];
    if (resolved.unified !== undefined)
      list.push({ version: 2, dir: this.#path(resolved.unified), controllers: new Set() });
    const byMount = new Map<string, Set<string>>();
    for (const controller of READ_CONTROLLERS) {
      const mount = resolved.v1.get(controller);
      if (mount === undefined) continue;
      const set = byMount.get(mount) ?? new Set<string>();
      set.add(controller);
      byMount.set(mount, set);
    }
    for (const [mount, controllers] of byMount)
      list.push({ version: 1, dir: this.#path(mount), controllers });
    return { layout: resolved.layout, list };
  }

  /** Layout from the directories under /sys/fs/cgroup, when the mount table says nothing. */
  #probe(forced?: CgroupLayout): CgroupHierarchies | undefined {
    const base = '/sys/fs/cgroup';
    const top = this.#client.listDir(this.#path(base));
    if (top === undefined) return undefined;
    const v1 = new Map<string, string>();
    for (const dir of top.dirs) {
      for (const controller of dir.split(','))
        if (V1_CONTROLLERS.has(controller) && !v1.has(controller)) v1.set(controller, `${base}/${dir}`);
    }
    const unifiedHere = top.files.has('cgroup.controllers');
    if (forced === 'v2' || (forced === undefined && unifiedHere))
      return { layout: 'v2', unified: base, v1: new Map() };
    const hybrid =
      this.#client.listDir(this.#path(`${base}/unified`))?.files.has('cgroup.controllers') === true;
    if (forced === 'hybrid' || (forced === undefined && hybrid && v1.size > 0)) {
      return { layout: 'hybrid', unified: `${base}/unified`, v1 };
    }
    if (v1.size === 0) return undefined;
    return { layout: 'v1', v1 };
  }

  /** Walks every hierarchy once (depth-first, up to max_depth) and merges them by path. */
  #walk(hierarchies: readonly Hierarchy[], errors: Map<string, Error>): WalkedCgroup[] {
    const byPath = new Map<string, WalkedCgroup>();
    const maxDepth = this.#config.max_depth;
    for (const hierarchy of hierarchies) {
      const stack: [string, string, number][] = [['/', hierarchy.dir, 0]];
      for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
        const [path, dir, depth] = next;
        let entries;
        let listing = this.#listings.get(dir);
        try {
          entries = this.#client.listDir(dir, listing?.entries);
        } catch (error) {
          errors.set(dir, toError(error));
          continue;
        }
        if (entries === undefined) continue;
        if (listing === undefined) {
          listing = { entries, seen: this.#scrapes, paths: new Map(), children: new Map() };
          this.#listings.set(dir, listing);
        } else {
          listing.entries = entries;
          listing.seen = this.#scrapes;
        }
        let cgroup = byPath.get(path);
        if (cgroup === undefined) {
          cgroup = { path, sources: [] };
          byPath.set(path, cgroup);
        }
        cgroup.sources.push({ hierarchy, dir, files: entries.files, paths: listing.paths });
        if (depth >= maxDepth) continue;
        const children = listing.children;
        for (let i = entries.dirs.length - 1; i >= 0; i--) {
          const name = entries.dirs[i] ?? '';
          let child = children.get(name);
          if (child === undefined) {
            const childPath = path === '/' ? `/${name}` : `${path}/${name}`;
            child = [childPath, hierarchy.dir + childPath];
            children.set(name, child);
          }
          stack.push([child[0], child[1], depth + 1]);
        }
      }
    }
    for (const [dir, listing] of this.#listings)
      if (listing.seen !== this.#scrapes) this.#listings.delete(dir);
    return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  }

  #state(path: string): CgroupState {
    let state = this.#states.get(path);
    if (state === undefined) {
      const identity = parseCgroupPath(path);
      const config = this.#config;
      const pathSelected =
        matchesAny(config.include, path) &&
        !matchesAny(config.exclude, path) &&
        (config.kinds.length === 0 || (config.kinds as readonly string[]).includes(identity.kind));
      state = { identity, pathSelected, attributesVersion: -1, seen: 0 };
      this.#states.set(path, state);
    }
    return state;
  }

  #runtimeSelected(attributes: Attributes): boolean {
    const runtimes = this.#config.runtimes as readonly string[];
    if (runtimes.length === 0) return true;
    const runtime = attributes['container.runtime.name'];
    return typeof runtime === 'string' && runtimes.includes(runtime);
  }

  /** Identity attributes, rebuilt when the pod cache changed since they were built. */
  #attributes(path: string, state: CgroupState): Attributes {
    const version = this.#pods?.version ?? 0;
    if (
      state.attributes !== undefined &&
      (state.attributesVersion === version || state.identity.podUid === undefined)
    ) {
      return state.attributes;
    }
    const id = state.identity;
    const attributes: Record<string, string> = { 'cgroup.path': path, 'inframeter.cgroups.kind': id.kind };
    if (id.containerId !== undefined) attributes['container.id'] = id.containerId;
    if (id.runtime !== undefined) attributes['container.runtime.name'] = id.runtime;
    if (id.podUid !== undefined) {
      attributes['k8s.pod.uid'] = id.podUid;
      const pod = this.#pods?.get(id.podUid);
      if (pod !== undefined) {
        attributes['k8s.pod.name'] = pod.name;
        attributes['k8s.namespace.name'] = pod.namespace;
        const container = id.containerId === undefined ? undefined : pod.containers.get(id.containerId);
        if (container !== undefined) {
          attributes['k8s.container.name'] = container.name;
          if (container.runtime !== undefined) attributes['container.runtime.name'] ??= container.runtime;
        }
      }
      const qos = id.qosClass ?? pod?.qosClass;
      if (qos !== undefined) attributes['inframeter.cgroups.k8s.qos_class'] = qos;
    } else if (id.qosClass !== undefined) {
      attributes['inframeter.cgroups.k8s.qos_class'] = id.qosClass;
    }
    if (id.systemdUnit !== undefined) attributes['inframeter.cgroups.systemd.unit'] = id.systemdUnit;
    if (id.scheduler !== undefined) attributes['inframeter.cgroups.job.scheduler'] = id.scheduler;
    if (id.jobId !== undefined) attributes['inframeter.cgroups.job.id'] = id.jobId;
    if (id.jobUser !== undefined) attributes['inframeter.cgroups.job.user'] = id.jobUser;
    if (id.jobStep !== undefined) attributes['inframeter.cgroups.job.step'] = id.jobStep;
    state.attributes = attributes;
    state.series = new AttributeTree(attributes);
    state.attributesVersion = version;
    return attributes;
  }

  /**
   * Reads one cgroup's files from every hierarchy holding it. v2 first, then v1, so that in a
   * hybrid layout the v1 controllers' accounting wins over the unified tree's core cpu.stat.
   * Throws VANISHED when the cgroup disappears while being read.
   */
  #read(cgroup: WalkedCgroup, errors: Map<string, Error>): CgroupStats {
    const stats = createStats();
    const groups = this.#groups;
    for (const source of cgroup.sources) {
      if (source.hierarchy.version === 2) this.#readV2(source, stats, errors);
    }
    for (const source of cgroup.sources) {
      if (source.hierarchy.version === 1) this.#readV1(source, stats, errors);
    }
    if (groups.has('memory')) finishMemory(stats.memory);
    return stats;
  }

  #readV2(source: Source, stats: CgroupStats, errors: Map<string, Error>): void {
    const groups = this.#groups;
    if (groups.has('cpu')) {
      const cpu = this.#file(source, 'cpu.stat', errors, this.#cpuStat);
      if (cpu !== undefined) applyCpuStatV2(stats.cpu, cpu);
    }
    if (groups.has('pressure')) {
      for (const [resource, file] of PRESSURE_FILES) {
        const pressure = this.#file(source, file, errors, parsePressure);
        if (pressure !== undefined) stats.pressure.push({ resource, pressure });
      }
    }
    if (groups.has('memory')) {
      const usage = this.#file(source, 'memory.current', errors, parseSingleValue);
      if (usage !== undefined) stats.memory.usage = usage;
      if (source.files.has('memory.max')) {
        const limit = this.#file(source, 'memory.max', errors, parseLimitOrNull);
        if (limit !== undefined && limit !== null) stats.memory.limit = limit;
      }
      const stat = this.#file(source, 'memory.stat', errors, this.#memoryStat);
      if (stat !== undefined) applyMemoryStat(stats.memory, stat, 2);
      const events = this.#file(source, 'memory.events', errors, parseFlatKeyed);
      if (events !== undefined) applyMemoryEvents(stats.memory, events);
    }
    if (groups.has('disk')) {
      const io = this.#file(source, 'io.stat', errors, parseIoStat);
      if (io !== undefined) {
        stats.disk = io.map((r) => ({
          device: this.#device(r.major, r.minor, errors),
          readBytes: r.rbytes,
          writeBytes: r.wbytes,
          discardBytes: r.dbytes,
          readOps: r.rios,
          writeOps: r.wios,
          discardOps: r.dios,
        }));
      }
    }
    if (groups.has('pids')) {
      const tasks = this.#file(source, 'pids.current', errors, parseSingleValue);
      if (tasks !== undefined) stats.tasks = tasks;
    }
  }

  #readV1(source: Source, stats: CgroupStats, errors: Map<string, Error>): void {
    const groups = this.#groups;
    const controllers = source.hierarchy.controllers;
    if (groups.has('cpu') && controllers.has('cpuacct')) {
      const usage = this.#file(source, 'cpuacct.usage', errors, parseSingleValue);
      if (usage !== undefined) stats.cpu.usageSec = usage / 1e9;
      const stat = this.#file(source, 'cpuacct.stat', errors, this.#cpuacctStat);
      if (stat !== undefined) applyCpuacctStat(stats.cpu, stat);
    }
    if (groups.has('cpu') && controllers.has('cpu')) {
      const stat = this.#file(source, 'cpu.stat', errors, this.#cpuStat);
      if (stat !== undefined) applyCpuStatV1(stats.cpu, stat);
    }
    if (groups.has('memory') && controllers.has('memory')) {
      const usage = this.#file(source, 'memory.usage_in_bytes', errors, parseSingleValue);
      if (usage !== undefined) stats.memory.usage = usage;
      const limit = this.#file(source, 'memory.limit_in_bytes', errors, parseLimitOrNull);
      if (limit !== undefined && limit !== null) stats.memory.limit = limit;
      const stat = this.#file(source, 'memory.stat', errors, this.#memoryStat);
      if (stat !== undefined) applyMemoryStat(stats.memory, stat, 1);
    }
    if (groups.has('disk') && controllers.has('blkio')) {
      // The _recursive files include descendants, like every other v1 and v2 value read here.
      const suffix = source.files.has('blkio.throttle.io_service_bytes_recursive') ? '_recursive' : '';
      const bytes = this.#file(source, `blkio.throttle.io_service_bytes${suffix}`, errors, parseBlkioStat);
      const ops = this.#file(source, `blkio.throttle.io_serviced${suffix}`, errors, parseBlkioStat);
      if (bytes !== undefined || ops !== undefined)
        stats.disk = this.#mergeBlkio(bytes ?? [], ops ?? [], errors);
    }
    if (groups.has('pids') && controllers.has('pids')) {
      const tasks = this.#file(source, 'pids.current', errors, parseSingleValue);
      if (tasks !== undefined) stats.tasks = tasks;
    }
  }

  #mergeBlkio(
    bytes: ReturnType<typeof parseBlkioStat>,
    ops: ReturnType<typeof parseBlkioStat>,
    errors: Map<string, Error>,
  ): DiskStats[] {
    const byDevice = new Map<string, DiskStats>();
    const get = (major: number, minor: number): DiskStats => {
      const key = `${major}:${minor}`;
      let disk = byDevice.get(key);
      if (disk === undefined) {
        disk = {
          device: this.#device(major, minor, errors),
          readBytes: 0,
          writeBytes: 0,
          discardBytes: 0,
          readOps: 0,
          writeOps: 0,
          discardOps: 0,
        };
        byDevice.set(key, disk);
      }
      return disk;
    };
    for (const r of bytes) {
      const disk = get(r.major, r.minor);
      disk.readBytes = r.read;
      disk.writeBytes = r.write;
      disk.discardBytes = r.discard;
    }
    for (const r of ops) {
      const disk = get(r.major, r.minor);
      disk.readOps = r.read;
      disk.writeOps = r.write;
      disk.discardOps = r.discard;
    }
    return [...byDevice.values()];
  }

  /**
   * Reads and parses one file of a cgroup, if the directory listing showed it. A read or parse
   * failure is recorded under the file's path and the file is skipped; a file gone since the
   * listing means the cgroup is gone (throws VANISHED).
   */
  #file<T>(
    source: Source,
    name: string,
    errors: Map<string, Error>,
    parse: (text: string, path: string) => T,
  ): T | undefined {
    if (!source.files.has(name)) return undefined;
    const path = pathOf(source, name);
    let text: string | undefined;
    try {
      text = this.#client.readText(path, true);
    } catch (error) {
      errors.set(path, toError(error));
      return undefined;
    }
    if (text === undefined) throw VANISHED;
    try {
      return parse(text, path);
    } catch (error) {
      errors.set(path, toError(error));
      return undefined;
    }
  }

  /** Name of a block device (`vda`), cached; `MAJ:MIN` when /sys/dev/block does not know it. */
  #device(major: number, minor: number, errors: Map<string, Error>): string {
    const key = `${major}:${minor}`;
    const known = this.#devices.get(key);
    if (known !== undefined) return known;
    const path = this.#path(`/sys/dev/block/${key}/uevent`);
    let name: string | undefined;
    try {
      const text = this.#client.readText(path);
      name = text === undefined ? undefined : parseUeventDevname(text);
    } catch (error) {
      // The device keeps its MAJ:MIN as name; the failure is reported.
      errors.set(path, toError(error));
    }
    if (name === undefined) return key;
    this.#devices.set(key, name);
    return name;
  }

  /** CPUs used since the previous scrape of the same cgroup. */
  #cpuUsage(state: CgroupState, stats: CgroupStats): void {
    const usage = stats.cpu.usageSec;
    if (usage === undefined || !this.#groups.has('cpu')) return;
    const now = this.#now();
    const previous = state.previousCpu;
    if (previous !== undefined && now > previous.atMs && usage >= previous.usageSec) {
      stats.cpuUsage = (usage - previous.usageSec) / ((now - previous.atMs) / 1000);
    }
    state.previousCpu = { usageSec: usage, atMs: now };
  }

  /** First pid of cgroup.procs in any hierarchy holding the cgroup. */
  #firstPid(cgroup: WalkedCgroup, errors: Map<string, Error>): number | undefined {
    for (const source of cgroup.sources) {
      if (!source.files.has('cgroup.procs')) continue;
      const path = pathOf(source, 'cgroup.procs');
      let head: string | undefined;
      try {
        head = this.#client.readHead(path, PID_HEAD_BYTES);
      } catch (error) {
        errors.set(path, toError(error));
        continue;
      }
      if (head === undefined) return undefined;
      const pid = parseFirstPid(head);
      if (pid !== undefined) return pid;
    }
    return undefined;
  }

  /** Inode of the host's network namespace: /proc/1/ns/net, or this process's when that is not readable. */
  #hostNamespace(errors: Map<string, Error>): number | undefined {
    if (this.#hostNetns !== undefined) return this.#hostNetns;
    const failures: string[] = [];
    for (const pid of ['1', 'self']) {
      const path = this.#path(`/proc/${pid}/ns/net`);
      try {
        const inode = parseNamespaceLink(this.#client.readLink(path) ?? '');
        if (inode !== undefined) {
          this.#hostNetns = inode;
          return inode;
        }
        failures.push(`${path}: not a namespace link`);
      } catch (error) {
        failures.push(`${path}: ${toError(error).message}`);
      }
    }
    errors.set(
      'host network namespace',
      new ScrapeError(
        1,
        `cannot tell the host's network namespace, network metrics skipped (${failures.join('; ')})`,
      ),
    );
    return undefined;
  }

  /**
   * Network counters of each cgroup's network namespace, through one of its processes. A
   * namespace is reported once per scrape, on the first cgroup in path order that is in it (a
   * pod rather than its containers), and never when it is the host's.
   */
  #readNetwork(
    entries: readonly CgroupEntry[],
    walked: readonly WalkedCgroup[],
    pids: ReadonlyMap<string, number | undefined>,
    errors: Map<string, Error>,
  ): void {
    const host = this.#hostNamespace(errors);
    if (host === undefined) return;
    const seen = new Set<number>([host]);
    const positions = new Map<string, number>();
    walked.forEach((cgroup, i) => positions.set(cgroup.path, i));
    for (const entry of entries) {
      let pid = pids.get(entry.path);
      const kind = entry.attributes['inframeter.cgroups.kind'];
      if (pid === undefined && (kind === 'pod' || kind === 'container')) {
        pid = this.#firstPidBelow(walked, positions.get(entry.path) ?? -1, pids, errors);
      }
      if (pid === undefined) continue;
      const linkPath = this.#path(`/proc/${pid}/ns/net`);
      let inode: number | undefined;
      try {
        inode = parseNamespaceLink(this.#client.readLink(linkPath) ?? '');
      } catch (error) {
        errors.set(linkPath, toError(error));
        continue;
      }
      if (inode === undefined || seen.has(inode)) continue;
      seen.add(inode);
      const devPath = this.#path(`/proc/${pid}/net/dev`);
      try {
        const text = this.#client.readText(devPath);
        if (text !== undefined) entry.stats.network = parseNetworkStats(text, devPath);
      } catch (error) {
        errors.set(devPath, toError(error));
      }
    }
  }

  /** First pid found in the descendants of the cgroup at `position` (they follow it in path order). */
  #firstPidBelow(
    walked: readonly WalkedCgroup[],
    position: number,
    pids: ReadonlyMap<string, number | undefined>,
    errors: Map<string, Error>,
  ): number | undefined {
    const parent = walked[position];
    if (parent === undefined) return undefined;
    const prefix = `${parent.path}/`;
    for (let i = position + 1; i < walked.length; i++) {
      const cgroup = walked[i];
      if (cgroup === undefined || !cgroup.path.startsWith(prefix)) break;
      const pid = pids.has(cgroup.path) ? pids.get(cgroup.path) : this.#firstPid(cgroup, errors);
      if (pid !== undefined) return pid;
    }
    return undefined;
  }
}

/** memory.max / memory.limit_in_bytes: null when there is no limit (undefined means "not read"). */
function parseLimitOrNull(text: string, path: string): number | null {
  return parseLimit(text, path) ?? null;
}

/** A parse function reading a flat keyed file into `reader` (the reader answers for it). */
function readerOf(keys: readonly string[]): (text: string, path: string) => FlatKeyedReader {
  const reader = new FlatKeyedReader(keys);
  return (text, path) => reader.read(text, path);
}

/** The path of the file `name` of a cgroup directory, made once. */
function pathOf(source: Source, name: string): string {
  let path = source.paths.get(name);
  if (path === undefined) {
    path = `${source.dir}/${name}`;
    source.paths.set(name, path);
  }
  return path;
}

/** The cgroups scraper with its producer: what the scrape controller drives. */
export function createCgroupsScraper(
  config: Config,
  deps: CgroupsScraperDeps = {},
): Scraper & { snapshot(): Snapshot } {
  const scraper = new CgroupsScraper(config, deps);
  return {
    metricProducer: createProducer(enabledMetrics(config), () => scraper.snapshot()),
    scrape: (signal) => scraper.scrape(signal),
    snapshot: () => scraper.snapshot(),
    shutdown: () => scraper.shutdown(),
  };
}
