import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { errorCode, ParseError, toError } from '../../kit/errors.ts';
import { parseStat } from '../../kit/procfs/stat.ts';
import type { ProcessClient } from './client.ts';
import type { ProcessConfig } from './config.ts';
import type { ProcessMetricName } from './metadata.ts';
import { containerIdOf, parseCgroup } from '../../kit/procfs/cgroup.ts';
import { parseCmdline, parseCommand } from './parse/cmdline.ts';
import { parsePidIo } from './parse/io.ts';
import { parsePasswd } from './parse/passwd.ts';
import { emptyPidStat, parsePidStatInto, USER_HZ } from '../../kit/procfs/pid-stat.ts';
import type { MutablePidStat, PidStat } from '../../kit/procfs/pid-stat.ts';
import { parseStatm } from '../../kit/procfs/statm.ts';
import { parseStatusBytes } from './parse/status.ts';
import type { PidStatus } from './parse/status.ts';
import { createProcessProducer } from './producer.ts';
import type { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import type { AttributeSets, CpuModes, DeniedCounts, ProcessSample, ProcessSnapshot } from './snapshot.ts';

/** Time sources: wall clock for ages, monotonic clock for rates. Both in milliseconds. */
export interface Clock {
  now(): number;
  monotonic(): number;
}

const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/**
 * An attribute set of a process, frozen: a set is replaced, never changed, when the process's
 * attributes change, and a frozen set is one whose text an exporter may keep across batches
 * (the csv exporter's cells).
 */
function frozen(attributes: Attributes): Attributes {
  return Object.freeze(attributes);
}

/** Builds the {@link AttributeSets} of a process's attributes. */
function toAttributeSets(a: Attributes): AttributeSets {
  return {
    cpuUser: frozen({ ...a, 'cpu.mode': 'user' }),
    cpuSystem: frozen({ ...a, 'cpu.mode': 'system' }),
    cpuWait: frozen({ ...a, 'cpu.mode': 'wait' }),
    read: frozen({ ...a, 'disk.io.direction': 'read' }),
    write: frozen({ ...a, 'disk.io.direction': 'write' }),
    voluntary: frozen({ ...a, 'process.context_switch.type': 'voluntary' }),
    involuntary: frozen({ ...a, 'process.context_switch.type': 'involuntary' }),
    minor: frozen({ ...a, 'system.paging.fault.type': 'minor' }),
    major: frozen({ ...a, 'system.paging.fault.type': 'major' }),
    series: [],
  };
}

/**
 * What the receiver keeps about a process between scrapes, for as long as the same process
 * (same pid and start time) exists: what never changes is read once. It is also the process's
 * entry in the ranking of a scrape: every process of the host is ranked on every scrape, so
 * the ranking makes no object or string per process (see `#rank`), and its loops over every
 * process are indexed: a for-of makes an iterator result per element until the function is
 * optimized, which a scrape every 10 s seldom gets.
 */
interface ProcessState {
  readonly pid: number;
  readonly starttime: number;
  /** Its stat as read by the latest scrape, parsed in place. */
  readonly stat: MutablePidStat;
  /** The scrape that last listed it (a count of scrapes). */
  listedIn: number;
  /** The scrape that last selected it. */
  selectedIn: number;
  /** CPU seconds per second since the previous scrape (or since start, on first sighting). */
  cpuRate: number;
  firstSighting: boolean;
  /** status, once read in this scrape (to match `include.owners`, then for the metrics). */
  status: PidStatus | undefined;
  /** The command name (stat comm) when the names below were read: it changes on execve(2). */
  comm: string;
  /** CPU ticks (user, system, block I/O wait) at the last scrape, and when. */
  user: number;
  system: number;
  wait: number;
  at: number;
  /** Undefined until first needed. */
  executableName: string | undefined;
  executableDenied: boolean;
  commandLine: string | undefined;
  /** argv[0] (process.command); read with the command line. */
  command: string | undefined;
  cgroupPaths: readonly string[] | undefined;
  /** The data point attributes, rebuilt when the parent or owner changes. */
  attributes: Attributes | undefined;
  attributeSets: AttributeSets | undefined;
}

/** A process listed in this scrape, with its ranking values. */
type Candidate = ProcessState;

const byCpu = (a: Candidate, b: Candidate): number => b.cpuRate - a.cpuRate || a.pid - b.pid;
const byRss = (a: Candidate, b: Candidate): number => b.stat.rss - a.stat.rss || a.pid - b.pid;
const byPid = (a: Candidate, b: Candidate): number => a.pid - b.pid;

/** Options of {@link ProcessScraper}. */
export interface ProcessScraperOptions {
  readonly config: ProcessConfig;
  readonly client: ProcessClient;
  readonly clock?: Clock;
}

const STATM_METRICS: readonly ProcessMetricName[] = [
  'process.memory.usage',
  'inframeter.process.memory.shared',
  'inframeter.process.memory.text',
  'inframeter.process.memory.data',
];
const IO_METRICS: readonly ProcessMetricName[] = [
  'process.disk.io',
  'inframeter.process.io.syscalls',
  'inframeter.process.io.chars',
];

/** Whether an error is a lack of privileges (another user's process, without CAP_SYS_PTRACE). */
function isDenied(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EACCES' || code === 'EPERM';
}

const EMPTY_SNAPSHOT: ProcessSnapshot = {
  processes: [],
  processCount: 0,
  denied: { io: 0, fd: 0, exe: 0 },
  pageSize: 4096,
};

/**
 * Scrapes processes: lists /proc, reads only `/proc/<pid>/stat` of every process to rank them,
 * then the other files of the selected processes only. Names, command lines and cgroups are
 * read once per process (pid and start time) and kept until it exits.
 */
export class ProcessScraper implements Scraper {
  readonly #config: ProcessConfig;
  readonly #client: ProcessClient;
  readonly #clock: Clock;
  readonly #states = new Map<number, ProcessState>();
  readonly #readStatm: boolean;
  readonly #readIo: boolean;
  readonly #readFds: boolean;
  readonly #needsCgroups: boolean;
  readonly #ownerRules: boolean;
  #bootTime: number | undefined;
  #users: Map<number, string> | undefined;
  #usersReloaded = false;
  #snapshot: ProcessSnapshot = EMPTY_SNAPSHOT;
  /** Scrapes so far: marks which states a scrape listed and selected. */
  #scrapes = 0;
  /** The processes listed by the scrape, and the same in ranking order: reused arrays. */
  readonly #candidates: Candidate[] = [];
  readonly #ranking: Candidate[] = [];
  readonly metricProducer: SnapshotProducer;

  constructor(options: ProcessScraperOptions) {
    this.#config = options.config;
    this.#client = options.client;
    this.#clock = options.clock ?? systemClock;
    const { metrics, include } = this.#config;
    this.#readStatm = STATM_METRICS.some((m) => metrics.has(m));
    this.#readIo = IO_METRICS.some((m) => metrics.has(m));
    this.#readFds = metrics.has('process.unix.file_descriptor.count');
    this.#ownerRules = include.owners.length > 0;
    this.#needsCgroups = include.cgroups.length > 0 || include.container_ids.length > 0;
    this.metricProducer = createProcessProducer(metrics, () => this.#snapshot);
  }

  scrape(signal: AbortSignal): Promise<ScrapeReport> {
    try {
      return Promise.resolve(this.#scrape(signal));
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  #scrape(signal: AbortSignal): ScrapeReport {
    const errors = new Map<string, Error>();
    const now = this.#clock.now();
    const at = this.#clock.monotonic();
    const pids = this.#client.listPids();
    this.#scrapes += 1;
    this.#usersReloaded = false;
    if (this.#bootTime === undefined) {
      try {
        const { bootTime } = parseStat(this.#client.readProcStat());
        if (bootTime === undefined) throw new ParseError('/proc/stat', 1, 'no btime line');
        this.#bootTime = bootTime;
      } catch (error) {
        errors.set('/proc/stat', toError(error));
      }
    }
    const candidates = this.#rank(pids, now, at, errors, signal);
    const selected = this.#select(candidates, errors);
    const denied: DeniedCounts = { io: 0, fd: 0, exe: 0 };
    const processes: ProcessSample[] = [];
    for (const candidate of selected) {
      const sample = this.#sample(candidate, now, at, denied, errors);
      if (sample !== undefined) processes.push(sample);
    }
    // Only now move every process's CPU mark, so that utilization spans the whole interval.
    for (let i = 0; i < candidates.length; i++) {
      const state = candidates[i] as Candidate;
      const { stat } = state;
      state.user = stat.utime;
      state.system = stat.stime;
      state.wait = stat.delayacctBlkioTicks ?? 0;
      state.at = at;
    }
    this.#states.forEach((state, pid, states) => {
      if (state.listedIn !== this.#scrapes) states.delete(pid);
    });
    this.#snapshot = {
      processes,
      processCount: candidates.length,
      denied,
      pageSize: this.#readStatm ? this.#client.pageSize() : EMPTY_SNAPSHOT.pageSize,
    };
    return { errors };
  }

  /**
   * Reads every process's stat, as bytes parsed into the stat its state keeps (a new process's
   * into a new one), and computes its CPU rate: the listed processes' states, in listing order.
   */
  #rank(pids: readonly number[], now: number, at: number, errors: Map<string, Error>, signal: AbortSignal) {
    const candidates = this.#candidates;
    candidates.length = 0;
    for (let i = 0; i < pids.length; i++) {
      if ((i & 255) === 0 && signal.aborted) throw toError(signal.reason);
      const pid = pids[i] ?? 0;
      let state = this.#states.get(pid);
      const stat = state?.stat ?? emptyPidStat();
      try {
        const file = this.#client.readPidBytes(pid, 'stat');
        if (file === undefined) continue;
        parsePidStatInto(file.bytes, stat, file.length);
      } catch (error) {
        errors.set(`/proc/${pid}/stat`, toError(error));
        continue;
      }
      const firstSighting = state?.starttime !== stat.starttime;
      if (state === undefined || firstSighting) {
        // A new process (or a pid reused): its stat moves to a new state.
        state = {
          pid,
          starttime: stat.starttime,
          stat,
          listedIn: 0,
          selectedIn: 0,
          cpuRate: 0,
          firstSighting: true,
          status: undefined,
          user: 0,
          system: 0,
          wait: 0,
          at,
          comm: stat.comm,
          executableName: undefined,
          executableDenied: false,
          commandLine: undefined,
          command: undefined,
          cgroupPaths: undefined,
          attributes: undefined,
          attributeSets: undefined,
        };
        this.#states.set(pid, state);
      } else if (state.comm !== stat.comm) {
        // Same pid and start time, new command name: the process ran execve(2) (or renamed
        // itself); what was read from exe and cmdline may be stale.
        state.comm = stat.comm;
        state.executableName = undefined;
        state.executableDenied = false;
        state.commandLine = undefined;
        state.command = undefined;
        state.attributes = undefined;
      }
      const ticks = stat.utime + stat.stime;
      const elapsed = (at - state.at) / 1000;
      if (!firstSighting && elapsed > 0) {
        state.cpuRate = (ticks - state.user - state.system) / USER_HZ / elapsed;
      } else {
        const age = this.#age(stat, now);
        state.cpuRate = age !== undefined && age > 0 ? ticks / USER_HZ / age : ticks / USER_HZ;
      }
      state.firstSighting = firstSighting;
      state.status = undefined;
      state.listedIn = this.#scrapes;
      candidates.push(state);
    }
    return candidates;
  }

  /** Seconds since the process started; undefined when the boot time is unknown. */
  #age(stat: PidStat, now: number): number | undefined {
    if (this.#bootTime === undefined) return undefined;
    // In whole milliseconds first, so that the result has no rounding noise.
    return Math.max(0, now - this.#bootTime * 1000 - (stat.starttime * 1000) / USER_HZ) / 1000;
  }

  /** The union of the include rules and the top-N rankings, in pid order. */
  #select(candidates: readonly Candidate[], errors: Map<string, Error>): Candidate[] {
    const { include, top } = this.#config;
    const scrape = this.#scrapes;
    const pidFilePids = this.#readPidFiles(errors);
    const hasRules =
      pidFilePids.size > 0 ||
      include.names.length > 0 ||
      include.command_lines.length > 0 ||
      this.#ownerRules ||
      this.#needsCgroups;
    if (hasRules) {
      for (const candidate of candidates) {
        if (this.#matches(candidate, pidFilePids, errors)) candidate.selectedIn = scrape;
      }
    }
    this.#selectTop(candidates, top.cpu, byCpu);
    this.#selectTop(candidates, top.memory, byRss);
    const chosen: Candidate[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i] as Candidate;
      if (candidate.selectedIn === scrape) chosen.push(candidate);
    }
    return chosen.sort(byPid);
  }

  /** Marks the first `count` candidates in `order` as selected by this scrape. */
  #selectTop(candidates: readonly Candidate[], count: number, order: (a: Candidate, b: Candidate) => number) {
    if (count <= 0) return;
    const ranking = this.#ranking;
    ranking.length = 0;
    for (let i = 0; i < candidates.length; i++) ranking.push(candidates[i] as Candidate);
    ranking.sort(order);
    for (let i = 0; i < count && i < ranking.length; i++)
      (ranking[i] as Candidate).selectedIn = this.#scrapes;
    ranking.length = 0;
  }

  #readPidFiles(errors: Map<string, Error>): Set<number> {
    const pids = new Set<number>();
    for (const path of this.#config.include.pid_files) {
      try {
        const text = this.#client.readRootFile(path);
        if (text === undefined) continue;
        const pid = Number(text.trim());
        if (!Number.isSafeInteger(pid) || pid <= 0 || text.trim() === '')
          throw new Error(`${path}: not a pid: ${JSON.stringify(text.slice(0, 40))}`);
        pids.add(pid);
      } catch (error) {
        errors.set(path, toError(error));
      }
    }
    return pids;
  }

  #matches(candidate: Candidate, pidFilePids: ReadonlySet<number>, errors: Map<string, Error>): boolean {
    const { include } = this.#config;
    if (pidFilePids.has(candidate.pid)) return true;
    if (include.names.length > 0) {
      const name = this.#executableName(candidate, errors);
      if (include.names.some((regex) => regex.test(name))) return true;
    }
    if (include.command_lines.length > 0) {
      const commandLine = this.#commandLine(candidate, errors);
      if (commandLine !== undefined && include.command_lines.some((regex) => regex.test(commandLine)))
        return true;
    }
    if (this.#ownerRules) {
      const status = this.#status(candidate, errors);
      if (status !== undefined) {
        const owner = this.#owner(status.realUid, errors);
        if (include.owners.some((regex) => regex.test(owner))) return true;
      }
    }
    if (this.#needsCgroups) {
      const paths = this.#cgroupPaths(candidate, errors);
      if (paths === undefined) return false;
      for (const path of paths) {
        if (include.cgroups.some(({ regex }) => regex.test(path))) return true;
        const id = include.container_ids.length > 0 ? containerIdOf(path) : undefined;
        if (id !== undefined && include.container_ids.some((prefix) => id.startsWith(prefix))) return true;
      }
    }
    return false;
  }

  /** The executable's base name, read once per process; the command name when it has none. */
  #executableName(state: Candidate, errors: Map<string, Error>): string {
    if (state.executableName !== undefined) return state.executableName;
    const { pid, stat } = state;
    let name: string | undefined;
    try {
      name = this.#client.readExecutableName(pid);
    } catch (error) {
      if (isDenied(error)) state.executableDenied = true;
      else errors.set(`/proc/${pid}/exe`, toError(error));
    }
    state.executableName = name ?? stat.comm;
    return state.executableName;
  }

  /** The command line and argv[0], read once per process. */
  #commandLine(state: Candidate, errors: Map<string, Error>): string | undefined {
    if (state.commandLine !== undefined) return state.commandLine;
    const { pid } = state;
    try {
      const text = this.#client.readPidFile(pid, 'cmdline');
      if (text !== undefined) {
        state.commandLine = parseCmdline(text);
        state.command = parseCommand(text);
      }
    } catch (error) {
      errors.set(`/proc/${pid}/cmdline`, toError(error));
    }
    return state.commandLine;
  }

  /**
   * The process's status, read at most once a scrape; undefined when it exited meanwhile or
   * the file is unreadable (recorded in `errors`).
   */
  #status(candidate: Candidate, errors: Map<string, Error>): PidStatus | undefined {
    if (candidate.status !== undefined) return candidate.status;
    try {
      const file = this.#client.readPidBytes(candidate.pid, 'status');
      if (file !== undefined) candidate.status = parseStatusBytes(file.bytes, file.length);
    } catch (error) {
      errors.set(`/proc/${candidate.pid}/status`, toError(error));
    }
    return candidate.status;
  }

  #cgroupPaths(state: Candidate, errors: Map<string, Error>): readonly string[] | undefined {
    if (state.cgroupPaths !== undefined) return state.cgroupPaths;
    const { pid } = state;
    try {
      const text = this.#client.readPidFile(pid, 'cgroup');
      if (text !== undefined) state.cgroupPaths = parseCgroup(text).map((m) => m.path);
    } catch (error) {
      errors.set(`/proc/${pid}/cgroup`, toError(error));
    }
    return state.cgroupPaths;
  }

  /** The user name of a uid, from passwd (re-read at most once a scrape when a uid is new). */
  #owner(uid: number, errors: Map<string, Error>): string {
    let name = this.#users?.get(uid);
    if (name === undefined && !this.#usersReloaded) {
      this.#usersReloaded = true;
      try {
        const text = this.#client.readPasswd();
        this.#users = text === undefined ? new Map() : parsePasswd(text);
      } catch (error) {
        errors.set('/etc/passwd', toError(error));
        this.#users ??= new Map();
      }
      name = this.#users.get(uid);
    }
    return name ?? String(uid);
  }

  /**
   * Reads the other files of a selected process. Undefined when it exited meanwhile (its
   * status is gone) or its status cannot be read.
   */
  #sample(
    candidate: Candidate,
    now: number,
    at: number,
    denied: DeniedCounts,
    errors: Map<string, Error>,
  ): ProcessSample | undefined {
    const state = candidate;
    const { pid } = state;
    // A copy: the state's stat is parsed into again by the next scrape.
    const stat: PidStat = { ...state.stat };
    const attempt = <T>(file: string, read: () => T | undefined): T | undefined => {
      try {
        return read();
      } catch (error) {
        if (isDenied(error) && (file === 'io' || file === 'fd')) {
          denied[file] += 1;
        } else {
          errors.set(`/proc/${pid}/${file}`, toError(error));
        }
        return undefined;
      }
    };
    const status = this.#status(candidate, errors);
    if (status === undefined) return undefined;
    const statm = this.#readStatm
      ? attempt('statm', () => {
          const text = this.#client.readPidFile(pid, 'statm');
          return text === undefined ? undefined : parseStatm(text);
        })
      : undefined;
    const io = this.#readIo
      ? attempt('io', () => {
          const text = this.#client.readPidFile(pid, 'io');
          return text === undefined ? undefined : parsePidIo(text);
        })
      : undefined;
    const fds = this.#readFds ? attempt('fd', () => this.#client.countFds(pid)) : undefined;
    const executableName = this.#executableName(candidate, errors);
    if (state.executableDenied) denied.exe += 1;
    const owner = this.#owner(status.realUid, errors);
    const commandLine = this.#commandLine(candidate, errors);
    // Kernel threads and zombies have no arguments: their command is the command name.
    const command = state.command === undefined || state.command === '' ? stat.comm : state.command;
    let kept = state.attributes;
    let sets = state.attributeSets;
    if (
      kept === undefined ||
      sets === undefined ||
      kept['process.parent_pid'] !== stat.ppid ||
      kept['process.owner'] !== owner ||
      kept['process.executable.name'] !== executableName ||
      kept['process.command'] !== command ||
      (this.#config.command_line && kept['process.command_line'] !== (commandLine ?? ''))
    ) {
      const attributes: Attributes = {
        'process.pid': pid,
        'process.parent_pid': stat.ppid,
        'process.executable.name': executableName,
        'process.command': command,
        'process.owner': owner,
      };
      if (this.#config.command_line) attributes['process.command_line'] = commandLine ?? '';
      kept = frozen(attributes);
      sets = toAttributeSets(attributes);
      state.attributes = kept;
      state.attributeSets = sets;
    }
    let utilization: CpuModes | undefined;
    const elapsed = (at - state.at) / 1000;
    if (!candidate.firstSighting && elapsed > 0 && status.cpusAllowed !== undefined) {
      const scale = USER_HZ * elapsed * status.cpusAllowed;
      utilization = {
        user: Math.max(0, stat.utime - state.user) / scale,
        system: Math.max(0, stat.stime - state.system) / scale,
        wait: Math.max(0, (stat.delayacctBlkioTicks ?? 0) - state.wait) / scale,
      };
    }
    return {
      attributes: kept,
      attributeSets: sets,
      stat,
      status,
      statm,
      io,
      fds,
      utilization,
      uptime: this.#age(stat, now),
      startTime:
        this.#bootTime === undefined ? undefined : (this.#bootTime * USER_HZ + stat.starttime) / USER_HZ,
    };
  }
}
