import { ParseError } from '../errors.ts';
import { firstFields, lines, toNumber } from './fields.ts';

/** The CPU modes of /proc/stat, in the kernel's column order (proc(5)). */
export const CPU_MODES = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
  'guest',
  'guest_nice',
] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** One `cpuN` line: time per mode in USER_HZ ticks (modes a kernel does not print are absent). */
export interface CpuTimes {
  /** Logical CPU number; -1 for the aggregate `cpu` line. */
  readonly cpu: number;
  readonly ticks: Partial<Record<CpuMode, number>>;
}

/** /proc/stat (proc(5)): CPU times and system-wide counters. */
export interface ProcStat {
  readonly total: CpuTimes | undefined;
  readonly cpus: readonly CpuTimes[];
  /** Context switches since boot (`ctxt`). */
  readonly contextSwitches: number | undefined;
  /** Interrupts serviced since boot (first field of `intr`). */
  readonly interrupts: number | undefined;
  /** Soft interrupts since boot (first field of `softirq`). */
  readonly softInterrupts: number | undefined;
  /** Processes created since boot (`processes`). */
  readonly forks: number | undefined;
  readonly procsRunning: number | undefined;
  readonly procsBlocked: number | undefined;
  /** Boot time, seconds since the Unix epoch (`btime`). */
  readonly bootTime: number | undefined;
}

const SOURCE = '/proc/stat';
const SCALARS = new Set(['ctxt', 'intr', 'softirq', 'processes', 'procs_running', 'procs_blocked', 'btime']);

/** Parses /proc/stat. Unknown lines are ignored; a malformed known line is an error. */
export function parseStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  let total: CpuTimes | undefined;
  const scalars: Record<string, number> = {};
  for (const { line, text: l } of lines(text)) {
    const head = firstFields(l, 2);
    const key = head[0] ?? '';
    if (key.startsWith('cpu')) {
      const fields = l.trim().split(/\s+/);
      const suffix = key.slice(3);
      const cpu = suffix === '' ? -1 : Number(suffix);
      if (!Number.isInteger(cpu)) throw new ParseError(SOURCE, line, `bad cpu label ${JSON.stringify(key)}`);
      if (fields.length < 5) throw new ParseError(SOURCE, line, `truncated ${key} line`);
      const ticks: Partial<Record<CpuMode, number>> = {};
      CPU_MODES.forEach((mode, i) => {
        const field = fields[i + 1];
        if (field !== undefined) ticks[mode] = toNumber(field, SOURCE, line, `${key} ${mode}`);
      });
      const times = { cpu, ticks };
      if (cpu === -1) total = times;
      else cpus.push(times);
    } else if (SCALARS.has(key)) {
      scalars[key] = toNumber(head[1], SOURCE, line, key);
    }
  }
  if (total === undefined && cpus.length === 0) throw new ParseError(SOURCE, 1, 'no cpu lines');
  return {
    total,
    cpus,
    contextSwitches: scalars.ctxt,
    interrupts: scalars.intr,
    softInterrupts: scalars.softirq,
    forks: scalars.processes,
    procsRunning: scalars.procs_running,
    procsBlocked: scalars.procs_blocked,
    bootTime: scalars.btime,
  };
}
