import type { Pressure } from './parse/pressure.ts';

/**
 * One cgroup's values, the same shape whether they came from cgroup v1 or v2 files. Absent
 * fields were not available (controller not mounted, file missing or unparsable).
 */
export interface CgroupStats {
  cpu: CpuStats;
  /** CPUs used on average since the previous scrape. */
  cpuUsage?: number;
  memory: MemoryStats;
  disk: DiskStats[];
  /** pids.current. */
  tasks?: number;
  pressure: { resource: 'cpu' | 'memory' | 'io'; pressure: Pressure }[];
  network: NetworkStats[];
}

/** CPU accounting, in seconds and periods. */
export interface CpuStats {
  usageSec?: number;
  userSec?: number;
  systemSec?: number;
  periods?: number;
  throttledPeriods?: number;
  throttledSec?: number;
}

/** Memory accounting, in bytes, pages and events. */
export interface MemoryStats {
  usage?: number;
  limit?: number;
  workingSet?: number;
  available?: number;
  rss?: number;
  file?: number;
  shmem?: number;
  fileMapped?: number;
  /** Inactive page cache, subtracted from usage for the working set. */
  inactiveFile?: number;
  /** LRU list name → bytes. */
  lru: [string, number][];
  minorFaults?: number;
  majorFaults?: number;
  pgpgin?: number;
  pgpgout?: number;
  /** memory.events key → count. */
  events: [string, number][];
}

/** I/O of one block device. */
export interface DiskStats {
  device: string;
  readBytes: number;
  writeBytes: number;
  discardBytes: number;
  readOps: number;
  writeOps: number;
  discardOps: number;
}

/** Counters of one network interface. */
export interface NetworkStats {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

/** Empty stats, to be filled by the apply functions. */
export function createStats(): CgroupStats {
  return { cpu: {}, memory: { lru: [], events: [] }, disk: [], pressure: [], network: [] };
}

/** Values of a flat keyed file by key: a map, or a reader of the known keys. */
export type Fields = Pick<ReadonlyMap<string, number>, 'get'>;

/**
 * USER_HZ, the unit of cpuacct.stat: fixed at 100 by the kernel's ABI on every architecture
 * Linux exports it to user space for (it is not CONFIG_HZ).
 */
export const USER_HZ = 100;

/** cgroup v2 cpu.stat (microseconds). In a hybrid layout the unified tree has only the usage keys. */
export function applyCpuStatV2(cpu: CpuStats, stat: Fields): void {
  const usage = stat.get('usage_usec');
  const user = stat.get('user_usec');
  const system = stat.get('system_usec');
  if (usage !== undefined) cpu.usageSec = usage / 1e6;
  if (user !== undefined) cpu.userSec = user / 1e6;
  if (system !== undefined) cpu.systemSec = system / 1e6;
  applyThrottling(cpu, stat, 'throttled_usec', 1e6);
}

/** cgroup v1 cpu.stat: nr_periods, nr_throttled, throttled_time (nanoseconds). */
export function applyCpuStatV1(cpu: CpuStats, stat: Fields): void {
  applyThrottling(cpu, stat, 'throttled_time', 1e9);
}

function applyThrottling(cpu: CpuStats, stat: Fields, timeKey: string, perSecond: number): void {
  const periods = stat.get('nr_periods');
  const throttled = stat.get('nr_throttled');
  const time = stat.get(timeKey);
  if (periods !== undefined) cpu.periods = periods;
  if (throttled !== undefined) cpu.throttledPeriods = throttled;
  if (time !== undefined) cpu.throttledSec = time / perSecond;
}

/** cgroup v1 cpuacct.stat: user and system time in USER_HZ ticks. */
export function applyCpuacctStat(cpu: CpuStats, stat: Fields): void {
  const user = stat.get('user');
  const system = stat.get('system');
  if (user !== undefined) cpu.userSec = user / USER_HZ;
  if (system !== undefined) cpu.systemSec = system / USER_HZ;
}

const LRU = ['active_anon', 'inactive_anon', 'active_file', 'inactive_file', 'unevictable'] as const;

/** The memory.stat keys read, cgroup v2 and v1. */
const MEMORY_STAT_V2 = ['anon', 'file', 'shmem', 'file_mapped', 'pgfault', 'pgmajfault', ...LRU];
const MEMORY_STAT_V1 = [
  'rss',
  'cache',
  'shmem',
  'mapped_file',
  'pgpgin',
  'pgpgout',
  'pgfault',
  'pgmajfault',
  ...LRU,
];
/** v1's `total_*` key of each, which includes descendants. */
const TOTAL_KEYS = new Map(MEMORY_STAT_V1.map((key) => [key, `total_${key}`]));
/** Every memory.stat key {@link applyMemoryStat} reads (for a reader of known keys). */
export const MEMORY_STAT_KEYS: readonly string[] = [
  ...new Set([...MEMORY_STAT_V2, ...MEMORY_STAT_V1, ...TOTAL_KEYS.values()]),
];
/** Every cpu.stat (v1 and v2) and cpuacct.stat key the apply functions read. */
export const CPU_STAT_KEYS: readonly string[] = [
  'usage_usec',
  'user_usec',
  'system_usec',
  'nr_periods',
  'nr_throttled',
  'throttled_usec',
  'throttled_time',
];
export const CPUACCT_STAT_KEYS: readonly string[] = ['user', 'system'];

/**
 * memory.stat. cgroup v2 values cover the cgroup and its descendants. cgroup v1 has both the
 * cgroup's own values and `total_*` ones that include descendants; the `total_*` ones are
 * taken when present, to match memory.usage_in_bytes, which also includes descendants.
 */
export function applyMemoryStat(memory: MemoryStats, stat: Fields, version: 1 | 2): void {
  const get =
    version === 2
      ? (key: string) => stat.get(key)
      : (key: string) => stat.get(TOTAL_KEYS.get(key) ?? key) ?? stat.get(key);
  const set = (field: 'rss' | 'file' | 'shmem' | 'fileMapped' | 'pgpgin' | 'pgpgout', key: string): void => {
    const value = get(key);
    if (value !== undefined) memory[field] = value;
  };
  set('rss', version === 2 ? 'anon' : 'rss');
  set('file', version === 2 ? 'file' : 'cache');
  set('shmem', 'shmem');
  set('fileMapped', version === 2 ? 'file_mapped' : 'mapped_file');
  if (version === 1) {
    set('pgpgin', 'pgpgin');
    set('pgpgout', 'pgpgout');
  }
  const faults = get('pgfault');
  const major = get('pgmajfault');
  if (major !== undefined) memory.majorFaults = major;
  if (faults !== undefined) memory.minorFaults = Math.max(0, faults - (major ?? 0));
  memory.lru = [];
  for (const list of LRU) {
    const value = get(list);
    if (value !== undefined) memory.lru.push([list, value]);
  }
  const inactiveFile = get('inactive_file');
  if (inactiveFile !== undefined) memory.inactiveFile = inactiveFile;
}

/** memory.events (cgroup v2): every key, in file order. */
export function applyMemoryEvents(memory: MemoryStats, events: ReadonlyMap<string, number>): void {
  memory.events = [...events];
}

/**
 * Working set and available memory, once usage, limit and memory.stat are in: working set is
 * usage minus inactive file pages (cAdvisor's and the kubelet's definition), never below 0;
 * available is the limit minus the working set, only when there is a limit.
 */
export function finishMemory(memory: MemoryStats): void {
  if (memory.usage === undefined) return;
  memory.workingSet = Math.max(0, memory.usage - (memory.inactiveFile ?? 0));
  if (memory.limit !== undefined) memory.available = Math.max(0, memory.limit - memory.workingSet);
}
