import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { toError } from '../../kit/errors.ts';
import type { MetricObserver } from '../../kit/snapshot-set.ts';
import { SnapshotSet } from '../../kit/snapshot-set.ts';
import type { Logger } from '../../kit/logger.ts';
import type { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import type { CgroupStats } from '../cgroups/index.ts';
import { CgroupsScraper, cgroupsConfigSchema, parseCgroupPath } from '../cgroups/index.ts';
import type { ConnectionOptions, DomainStats, LibvirtConnection } from '../libvirt/index.ts';
import { observeDomain, openConnection } from '../libvirt/index.ts';
import { parseCgroup } from '../../kit/procfs/cgroup.ts';
import type { PidStat } from '../../kit/procfs/pid-stat.ts';
import { parsePidStat, USER_HZ } from '../../kit/procfs/pid-stat.ts';
import { parseStatm } from '../../kit/procfs/statm.ts';
import type { KubevirtHostClient } from './client.ts';
import { createHostClient } from './client.ts';
import type { Config } from './config.ts';
import { fillTemplate } from './config.ts';
import { metadata } from './metadata.ts';
import type { VmTarget } from './parse/vmi.ts';

/**
 * Reads, once per scrape, each VM the discovery knows on this node: its QEMU process from
 * `/proc` (the process receiver's client and parsers), its launcher pod's cgroup (the cgroups
 * receiver's scraper, restricted to pod cgroups), and its domain statistics through the
 * libvirt daemon inside the launcher pod (the libvirt receiver's client) when that is
 * reachable. A VM without a launcher pod, without a QEMU process yet, or whose daemon cannot be
 * reached is a state the snapshot counts, not an error; a VM that goes away while it is read
 * is simply not reported.
 */

/** What the receiver knows about the node's VMs (the discovery's cache). */
export interface VmSource {
  readonly version: number;
  targets(): readonly VmTarget[];
}

/** How far the receiver got with a VM. */
export type VmStatus = 'monitored' | 'no_launcher_pod' | 'no_qemu_process';
/** The state of a VM's libvirt daemon. */
export type LibvirtStatus = 'reachable' | 'unreachable';

/** The QEMU process of a VM. */
export interface QemuSample {
  readonly pid: number;
  readonly stat: PidStat;
  /** Resident set size, in bytes. */
  readonly rssBytes: number;
}

/** A VM's domain statistics through its launcher's libvirt daemon. */
export interface LibvirtSample {
  readonly status: LibvirtStatus;
  readonly uri: string;
  readonly domains: readonly DomainStats[];
}

/** One VM as the last scrape read it. */
export interface VmSample {
  readonly target: VmTarget;
  readonly attributes: Attributes;
  readonly status: VmStatus;
  readonly qemu?: QemuSample;
  /** The launcher pod's cgroup. */
  readonly pod?: CgroupStats;
  /** Undefined when libvirt statistics are off or the VM has no launcher pod. */
  readonly libvirt?: LibvirtSample;
}

/** What the last scrape saw. */
export interface Snapshot {
  readonly vms: readonly VmSample[];
}

/** What the scraper is given besides its config. */
export interface KubevirtScraperDeps {
  readonly vms: VmSource;
  readonly client?: KubevirtHostClient;
  /** Opens a read-only libvirt connection (the libvirt receiver's `openConnection`). */
  readonly openLibvirt?: (uri: string, options?: ConnectionOptions) => Promise<LibvirtConnection>;
  /** Logs when a VM's daemon becomes unreachable or reachable again (once per change). */
  readonly logger?: Logger;
  /** Milliseconds, for libvirt retry delays. */
  readonly now?: () => number;
}

/** A full `/proc` scan for missing QEMU processes is repeated at most this often while nothing changes. */
const RESCAN_MS = 30_000;
/** Deep enough for the pod cgroups of every kubelet layout (`/kubepods.slice/kubepods-burstable.slice/…pod….slice` is 3). */
const POD_CGROUP_DEPTH = 5;

interface LibvirtState {
  uri: string;
  connection: LibvirtConnection | undefined;
  retryAt: number;
  delay: number;
  /** Why the daemon is unreachable, as last logged; undefined while reachable. */
  reason: string | undefined;
  /** Settles when the open or collect in flight does (it may outlive a scrape that timed out). */
  pending: Promise<void> | undefined;
  /** The VM went away or its URI changed: whatever the call in flight opens is closed. */
  retired: boolean;
}

/** Reads the node's VMs into a {@link Snapshot}. */
export class KubevirtScraper implements Scraper {
  readonly #config: Config;
  readonly #vms: VmSource;
  readonly #client: KubevirtHostClient;
  readonly #openLibvirt: (uri: string, options?: ConnectionOptions) => Promise<LibvirtConnection>;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #root: string;
  readonly #cgroups: CgroupsScraper;
  readonly #qemuPrefixes: readonly string[];
  /** Launcher pod UID → its QEMU process, kept while the pid lives with the same start time. */
  readonly #qemu = new Map<string, { pid: number; starttime: number }>();
  readonly #libvirt = new Map<string, LibvirtState>();
  readonly #discoveryErrors = new Map<string, { resource: string; type: string; count: number }>();
  #lastScan = { at: Number.NEGATIVE_INFINITY, version: -1 };
  #snapshot: Snapshot = { vms: [] };
  /** The metrics, observed from the last scrape's snapshot when the scrape runner collects. */
  readonly metricProducer: SnapshotProducer;

  constructor(config: Config, deps: KubevirtScraperDeps) {
    this.#config = config;
    const libvirt = config.libvirt.enabled;
    this.metricProducer = new SnapshotSet(
      'inframeter/receiver/kubevirt',
      metadata.metrics,
      (m) => (libvirt || m.group !== 'libvirt') && config.metrics.has(m.name),
      (s) => {
        this.#observe(s);
      },
    ).producer;
    this.#vms = deps.vms;
    this.#client = deps.client ?? createHostClient({ rootPath: config.root_path });
    this.#openLibvirt = deps.openLibvirt ?? openConnection;
    this.#logger = deps.logger;
    this.#now = deps.now ?? (() => Date.now());
    this.#root = config.root_path.replace(/\/+$/, '');
    this.#qemuPrefixes = config.qemu_commands;
    this.#cgroups = new CgroupsScraper(
      cgroupsConfigSchema.parse({
        root_path: config.root_path,
        layout: config.cgroup_layout,
        kinds: ['pod'],
        max_depth: POD_CGROUP_DEPTH,
        max_cgroups: 100_000,
        groups: {
          cpu: { enabled: true },
          memory: { enabled: true },
          disk: { enabled: false },
          pids: { enabled: false },
          pressure: { enabled: false },
          network: { enabled: false },
        },
      }),
      { client: this.#client.cgroups },
    );
  }

  /** What the last scrape read. */
  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Counts a failed list or watch of the Kubernetes API (the discovery retries it). */
  countDiscoveryError(resource: string, type: string): void {
    const key = `${resource}\u0000${type}`;
    const entry = this.#discoveryErrors.get(key);
    if (entry === undefined) this.#discoveryErrors.set(key, { resource, type, count: 1 });
    else entry.count += 1;
  }

  #observe(s: MetricObserver): void {
    const libvirt = this.#config.libvirt.enabled;
    const counts: Record<VmStatus, number> = { monitored: 0, no_launcher_pod: 0, no_qemu_process: 0 };
    const reach: Record<LibvirtStatus, number> = { reachable: 0, unreachable: 0 };
    for (const vm of this.#snapshot.vms) {
      counts[vm.status] += 1;
      observeVm(s, vm);
      if (vm.libvirt !== undefined) {
        reach[vm.libvirt.status] += 1;
        for (const d of vm.libvirt.domains) observeDomain(s, vm.libvirt.uri, d, vm.attributes);
      }
    }
    for (const [status, n] of Object.entries(counts))
      s.observe('inframeter.kubevirt.vm.count', n, { 'inframeter.kubevirt.vm.status': status });
    if (libvirt)
      for (const [status, n] of Object.entries(reach))
        s.observe('inframeter.kubevirt.libvirt.count', n, { 'inframeter.kubevirt.libvirt.status': status });
    for (const { resource, type, count } of this.#discoveryErrors.values())
      s.observe('inframeter.kubevirt.discovery.errors', count, {
        'inframeter.kubevirt.resource': resource,
        'error.type': type,
      });
  }

  async scrape(signal: AbortSignal): Promise<ScrapeReport> {
    const errors = new Map<string, Error>();
    const targets = this.#vms.targets();
    const pods = await this.#readPodCgroups(targets, signal, errors);
    const qemu = this.#findQemu(targets, errors);
    const samples: VmSample[] = [];
    const libvirtReads: Promise<void>[] = [];
    for (const target of targets) {
      const pod = target.launcherPod;
      const attributes = vmAttributes(target);
      if (pod === undefined) {
        samples.push({ target, attributes, status: 'no_launcher_pod' });
        continue;
      }
      const process = qemu.get(pod.uid);
      const podStats = pods.get(pod.uid);
      const sample: {
        target: VmTarget;
        attributes: Attributes;
        status: VmStatus;
        qemu?: QemuSample;
        pod?: CgroupStats;
        libvirt?: LibvirtSample;
      } = { target, attributes, status: process === undefined ? 'no_qemu_process' : 'monitored' };
      if (process !== undefined) sample.qemu = process;
      if (podStats !== undefined) sample.pod = podStats;
      if (this.#config.libvirt.enabled)
        libvirtReads.push(
          this.#readLibvirt(target, pod.uid, process?.pid).then((libvirt) => {
            sample.libvirt = libvirt;
          }),
        );
      samples.push(sample);
    }
    await Promise.all(libvirtReads);
    this.#closeGoneConnections(targets);
    signal.throwIfAborted();
    // A VM deleted while it was read is not reported (its series end with it).
    const still = new Set(this.#vms.targets().map((t) => t.vmiUid));
    this.#snapshot = { vms: samples.filter((s) => still.has(s.target.vmiUid)) };
    return { errors };
  }

  async shutdown(): Promise<void> {
    const states = [...this.#libvirt.values()];
    this.#libvirt.clear();
    const closing: Promise<void>[] = [];
    for (const state of states) {
      state.retired = true;
      const connection = state.connection;
      state.connection = undefined;
      if (connection !== undefined) closing.push(connection.close().catch(() => undefined));
    }
    // Bounded: a hung daemon must not hold the collector's shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closing),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#config.libvirt.timeout);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  /** The pod cgroups of the cgroups scraper, by pod UID, for the targets' launcher pods. */
  async #readPodCgroups(
    targets: readonly VmTarget[],
    signal: AbortSignal,
    errors: Map<string, Error>,
  ): Promise<Map<string, CgroupStats>> {
    const byUid = new Map<string, CgroupStats>();
    if (!targets.some((t) => t.launcherPod !== undefined)) return byUid;
    try {
      const report = await this.#cgroups.scrape(signal);
      for (const [key, error] of report.errors) errors.set(key, error);
    } catch (error) {
      signal.throwIfAborted();
      errors.set('cgroups', toError(error));
      return byUid;
    }
    for (const entry of this.#cgroups.snapshot().cgroups) {
      const uid = entry.attributes['k8s.pod.uid'];
      if (typeof uid === 'string') byUid.set(uid, entry.stats);
    }
    return byUid;
  }

  /**
   * The QEMU process of each launcher pod: the cached pid while it lives with the same start
   * time, otherwise found by a scan of `/proc` for processes named like QEMU whose cgroup is
   * the pod's. The scan is repeated only when the VMs changed or after {@link RESCAN_MS}.
   */
  #findQemu(targets: readonly VmTarget[], errors: Map<string, Error>): Map<string, QemuSample> {
    const proc = this.#client.process;
    const found = new Map<string, QemuSample>();
    const stats = new Map<string, PidStat>();
    const wanted = new Set<string>();
    for (const t of targets) if (t.launcherPod !== undefined) wanted.add(t.launcherPod.uid);
    for (const uid of this.#qemu.keys()) if (!wanted.has(uid)) this.#qemu.delete(uid);
    for (const [uid, cached] of this.#qemu) {
      const stat = this.#readStat(cached.pid, errors);
      if (stat?.starttime === cached.starttime && this.#isQemu(stat.comm)) stats.set(uid, stat);
      else this.#qemu.delete(uid);
    }
    const missing = [...wanted].filter((uid) => !this.#qemu.has(uid));
    const version = this.#vms.version;
    const now = this.#now();
    if (missing.length > 0 && (version !== this.#lastScan.version || now - this.#lastScan.at >= RESCAN_MS)) {
      this.#lastScan = { at: now, version };
      this.#scan(new Set(missing), stats, errors);
    }
    for (const [uid, stat] of stats) {
      const statm = this.#read(stat.pid, 'statm', errors, parseStatm);
      if (statm === undefined) continue;
      found.set(uid, { pid: stat.pid, stat, rssBytes: statm.resident * proc.pageSize() });
    }
    return found;
  }

  #scan(missing: Set<string>, stats: Map<string, PidStat>, errors: Map<string, Error>): void {
    let pids: number[];
    try {
      pids = this.#client.process.listPids();
    } catch (error) {
      errors.set(`${this.#root}/proc`, toError(error));
      return;
    }
    for (const pid of pids) {
      if (missing.size === 0) return;
      const stat = this.#readStat(pid, errors);
      if (stat === undefined || !this.#isQemu(stat.comm)) continue;
      const memberships = this.#read(pid, 'cgroup', errors, parseCgroup);
      if (memberships === undefined) continue;
      for (const membership of memberships) {
        const uid = podUidIn(membership.path, missing);
        if (uid === undefined) continue;
        missing.delete(uid);
        this.#qemu.set(uid, { pid, starttime: stat.starttime });
        stats.set(uid, stat);
        break;
      }
    }
  }

  #isQemu(comm: string): boolean {
    return this.#qemuPrefixes.some((prefix) => comm.startsWith(prefix));
  }

  #readStat(pid: number, errors: Map<string, Error>): PidStat | undefined {
    return this.#read(pid, 'stat', errors, parsePidStat);
  }

  /** One `/proc/<pid>` file, parsed; undefined when the process is gone or the file is bad (recorded). */
  #read<T>(
    pid: number,
    file: 'stat' | 'statm' | 'cgroup',
    errors: Map<string, Error>,
    parse: (text: string) => T,
  ): T | undefined {
    const path = `${this.#root}/proc/${String(pid)}/${file}`;
    try {
      const text = this.#client.process.readPidFile(pid, file);
      return text === undefined ? undefined : parse(text);
    } catch (error) {
      errors.set(path, toError(error));
      return undefined;
    }
  }

  /** Domain statistics through the launcher's daemon; unreachable is a state, never an error. */
  async #readLibvirt(target: VmTarget, podUid: string, qemuPid: number | undefined): Promise<LibvirtSample> {
    const config = this.#config.libvirt;
    const values = {
      root_path: this.#root,
      pod_uid: podUid,
      namespace: target.namespace,
      vmi_name: target.vmiName,
      ...(qemuPid === undefined ? {} : { qemu_pid: String(qemuPid) }),
    };
    const socket = fillTemplate(config.socket, values).replace(/\/{2,}/g, '/');
    const uri = fillTemplate(config.uri, { ...values, socket });
    let state = this.#libvirt.get(podUid);
    if (state !== undefined && state.uri !== uri) {
      retire(state);
      state = undefined;
    }
    if (state === undefined) {
      state = {
        uri,
        connection: undefined,
        retryAt: 0,
        delay: config.retry_delay,
        reason: undefined,
        pending: undefined,
        retired: false,
      };
      this.#libvirt.set(podUid, state);
    }
    const current = state;
    const vm = `${target.namespace}/${target.vmiName}`;
    const unreachable = (reason: string): LibvirtSample => {
      if (current.reason !== reason) {
        current.reason = reason;
        this.#logger?.info({ vm, uri, reason }, 'libvirt daemon of the VM is not reachable');
      }
      return { status: 'unreachable', uri, domains: [] };
    };
    // A daemon that has not answered the previous call yet gets no second one: at most one
    // of libvirt's worker threads waits on a hung daemon.
    if (current.pending !== undefined) return { status: 'unreachable', uri, domains: [] };
    if (current.connection === undefined) {
      if (socket.includes('{qemu_pid}')) return unreachable('no QEMU process yet');
      if (!this.#client.isSocket(socket)) return unreachable(`no socket at ${socket}`);
      if (this.#now() < current.retryAt) return { status: 'unreachable', uri, domains: [] };
    }
    const attempt = async (): Promise<readonly DomainStats[]> => {
      if (current.connection === undefined) {
        // Past the deadline the open is ended and the daemon's URI quarantined (client.ts).
        const connection = await this.#openLibvirt(uri, { deadlineMs: config.timeout });
        if (current.retired) {
          void connection.close().catch(() => undefined);
          throw new Error('the VM went away');
        }
        current.connection = connection;
      }
      try {
        return (await current.connection.collect()).domains;
      } catch (error) {
        retireConnection(current);
        throw error;
      }
    };
    const work = attempt();
    current.pending = work.then(
      () => undefined,
      () => undefined,
    );
    void current.pending.finally(() => {
      current.pending = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, config.timeout);
      timer.unref();
    });
    const outcome = await Promise.race([
      work.then(
        (domains) => ({ domains }),
        (error: unknown) => ({ error }),
      ),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // A collection past its deadline: the connection is ended, not left waiting; its URI
      // runs in a process of its own from then on, the other VMs' connections stay shared.
      current.connection?.abort();
      this.#backOff(current);
      return unreachable(`no answer within ${String(config.timeout)} ms`);
    }
    if ('error' in outcome) {
      this.#backOff(current);
      return unreachable(toError(outcome.error).message);
    }
    current.delay = config.retry_delay;
    if (current.reason !== undefined) {
      current.reason = undefined;
      this.#logger?.info({ vm, uri }, 'libvirt daemon of the VM is reachable');
    }
    return { status: 'reachable', uri, domains: outcome.domains };
  }

  #backOff(state: LibvirtState): void {
    state.retryAt = this.#now() + state.delay;
    state.delay = Math.min(state.delay * 2, this.#config.libvirt.max_retry_delay);
  }

  #closeGoneConnections(targets: readonly VmTarget[]): void {
    const live = new Set<string>();
    for (const t of targets) if (t.launcherPod !== undefined) live.add(t.launcherPod.uid);
    const gone: LibvirtState[] = [];
    for (const [uid, state] of this.#libvirt) {
      if (live.has(uid)) continue;
      this.#libvirt.delete(uid);
      gone.push(state);
    }
    for (const state of gone) retire(state);
  }
}

/**
 * Which of `uids` a cgroup path is in: the kubelet names a pod's cgroup `pod<uid>` (cgroupfs) or
 * `kubepods-<qos>-pod<uid with underscores>.slice` (systemd). Matched anywhere in the path,
 * because an agent in its own cgroup namespace reads paths relative to it
 * (`/../../kubepods-burstable-pod….slice/…`), where the parents that name the kubepods tree are
 * missing.
 */
function podUidIn(path: string, uids: ReadonlySet<string>): string | undefined {
  const known = parseCgroupPath(path).podUid;
  if (known !== undefined) return uids.has(known) ? known : undefined;
  for (const uid of uids)
    if (path.includes(`pod${uid}`) || path.includes(`pod${uid.replaceAll('-', '_')}`)) return uid;
  return undefined;
}

/** Drops a state's connection, closing it without waiting (a hung daemon may never answer). */
function retireConnection(state: LibvirtState): void {
  const connection = state.connection;
  state.connection = undefined;
  // A daemon that went away with its pod cannot be closed cleanly; there is nothing to report.
  if (connection !== undefined) void connection.close().catch(() => undefined);
}

/** A state no longer used: its connection is closed, and so is one a call in flight opens. */
function retire(state: LibvirtState): void {
  state.retired = true;
  retireConnection(state);
}

/** The attributes naming a VM on every one of its points. */
export function vmAttributes(target: VmTarget): Attributes {
  const attributes: Record<string, string> = {
    'k8s.namespace.name': target.namespace,
    'k8s.node.name': target.nodeName,
    'kubevirt.vmi.name': target.vmiName,
    'kubevirt.vmi.uid': target.vmiUid,
  };
  if (target.vmName !== undefined) attributes['kubevirt.vm.name'] = target.vmName;
  if (target.launcherPod !== undefined) {
    attributes['k8s.pod.name'] = target.launcherPod.name;
    attributes['k8s.pod.uid'] = target.launcherPod.uid;
  }
  return attributes;
}

function observeVm(s: MetricObserver, vm: VmSample): void {
  const base = vm.attributes;
  s.observe('inframeter.kubevirt.vm.phase', 1, { ...base, 'kubevirt.vmi.phase': vm.target.phase });
  const qemu = vm.qemu;
  if (qemu !== undefined) {
    const p = { ...base, 'process.pid': qemu.pid, 'process.executable.name': qemu.stat.comm };
    s.observe('process.cpu.time', qemu.stat.utime / USER_HZ, { ...p, 'cpu.mode': 'user' });
    s.observe('process.cpu.time', qemu.stat.stime / USER_HZ, { ...p, 'cpu.mode': 'system' });
    s.observe('process.memory.usage', qemu.rssBytes, p);
    s.observe('process.memory.virtual', qemu.stat.vsize, p);
    s.observe('process.thread.count', qemu.stat.numThreads, p);
    s.observe('process.paging.faults', qemu.stat.minflt, { ...p, 'system.paging.fault.type': 'minor' });
    s.observe('process.paging.faults', qemu.stat.majflt, { ...p, 'system.paging.fault.type': 'major' });
  }
  const pod = vm.pod;
  if (pod !== undefined) {
    s.observe('k8s.pod.cpu.time', pod.cpu.usageSec, base);
    s.observe('k8s.pod.memory.usage', pod.memory.usage, base);
    s.observe('k8s.pod.memory.working_set', pod.memory.workingSet, base);
    s.observe('k8s.pod.memory.rss', pod.memory.rss, base);
    s.observe('k8s.pod.memory.available', pod.memory.available, base);
    s.observe('inframeter.kubevirt.pod.memory.limit', pod.memory.limit, base);
  }
}
