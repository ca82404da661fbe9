import { ParseError } from '../errors.ts';
import { isSpace, parseInteger } from './fields.ts';

/**
 * Clock ticks per second of the times in `/proc/<pid>/stat` (USER_HZ). It is part of the
 * kernel's user-space ABI and 100 on every architecture Linux supports today.
 */
export const USER_HZ = 100;

/**
 * One process's `/proc/<pid>/stat` (proc_pid_stat(5)): the fields the process receiver uses.
 * Times are in clock ticks (USER_HZ), sizes as the kernel gives them.
 */
export interface PidStat {
  /** Field 1: the process id. */
  readonly pid: number;
  /** Field 2: the command name (`comm`), at most 15 bytes, without the parentheses. */
  readonly comm: string;
  /** Field 3: the state letter (R, S, D, Z, T, t, X, I, …). */
  readonly state: string;
  /** Field 4: the parent's process id. */
  readonly ppid: number;
  /** Field 10: minor faults (no page had to be loaded from disk). */
  readonly minflt: number;
  /** Field 12: major faults (a page was loaded from disk). */
  readonly majflt: number;
  /** Field 14: user-mode time, in clock ticks. */
  readonly utime: number;
  /** Field 15: kernel-mode time, in clock ticks. */
  readonly stime: number;
  /** Field 16: user-mode time of waited-for children, in clock ticks. */
  readonly cutime: number;
  /** Field 17: kernel-mode time of waited-for children, in clock ticks. */
  readonly cstime: number;
  /** Field 20: number of threads. */
  readonly numThreads: number;
  /** Field 22: start time after boot, in clock ticks. */
  readonly starttime: number;
  /** Field 23: virtual memory size, in bytes. */
  readonly vsize: number;
  /** Field 24: resident set size, in pages. */
  readonly rss: number;
  /**
   * Field 42: aggregated block I/O delay, in clock ticks (Linux ≥ 2.6.18; 0 unless delay
   * accounting is on: `kernel.task_delayacct` or the `delayacct` boot option). Undefined when
   * the kernel's line is shorter.
   */
  readonly delayacctBlkioTicks: number | undefined;
}

const SOURCE = '/proc/<pid>/stat';
/** Fields after the command name that must be present: up to rss (field 24). */
const REQUIRED_AFTER_COMM = 22;

/** Indexes (field number − 3) of the numeric fields read after the command name. */
const NUMERIC = [1, 7, 9, 11, 12, 13, 14, 17, 19, 20, 21, 39];
const WANTED = new Uint8Array(40);
for (const index of NUMERIC) WANTED[index] = 1;
/** The numeric fields of the line being parsed, by index; reused from call to call. */
const scratch = new Float64Array(40);

/**
 * Parses `/proc/<pid>/stat`. The command name may contain spaces and parentheses, so it runs
 * from the first `(` to the LAST `)`; the other fields are separated by spaces after it and
 * are scanned in place (no array of fifty strings per process and scrape).
 */
export function parsePidStat(text: string): PidStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open)
    throw new ParseError(SOURCE, 1, `no "(comm)" field in ${JSON.stringify(text)}`);
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isSafeInteger(pid) || text.slice(0, open).trim() === '')
    throw new ParseError(SOURCE, 1, `pid is not a number: ${JSON.stringify(text.slice(0, open))}`);
  let end = text.length;
  while (end > close && isSpace(text.charCodeAt(end - 1))) end -= 1;
  // Field index + 3 of proc_pid_stat(5), from the one after the command name.
  let index = 0;
  let state = '';
  for (let start = close + 2; start <= end; index++) {
    let stop = text.indexOf(' ', start);
    if (stop < 0 || stop > end) stop = end;
    if (index === 0) state = text.slice(start, stop);
    else if (index < 40 && WANTED[index] === 1) {
      const value = parseInteger(text, start, stop);
      if (value === undefined)
        throw new ParseError(
          SOURCE,
          1,
          `field ${index + 3} is not a number: ${JSON.stringify(text.slice(start, stop))}`,
        );
      scratch[index] = value;
    }
    start = stop + 1;
  }
  if (index < REQUIRED_AFTER_COMM)
    throw new ParseError(SOURCE, 1, `truncated: ${index + 2} fields, expected at least 24`);
  const field = (i: number): number => scratch[i] ?? 0;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state,
    ppid: field(1),
    minflt: field(7),
    majflt: field(9),
    utime: field(11),
    stime: field(12),
    cutime: field(13),
    cstime: field(14),
    numThreads: field(17),
    starttime: field(19),
    vsize: field(20),
    rss: field(21),
    delayacctBlkioTicks: index > 39 ? field(39) : undefined,
  };
}
