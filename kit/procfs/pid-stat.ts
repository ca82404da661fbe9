import { ParseError } from '../errors.ts';
import { integerAt, sameText, textOf } from './bytes.ts';
import { isSpace } from './fields.ts';

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

/** A {@link PidStat} that {@link parsePidStatInto} rewrites in place. */
export type MutablePidStat = { -readonly [K in keyof PidStat]: PidStat[K] };

/** A stat of zeros, to parse into. */
export function emptyPidStat(): MutablePidStat {
  return {
    pid: 0,
    comm: '',
    state: '',
    ppid: 0,
    minflt: 0,
    majflt: 0,
    utime: 0,
    stime: 0,
    cutime: 0,
    cstime: 0,
    numThreads: 0,
    starttime: 0,
    vsize: 0,
    rss: 0,
    delayacctBlkioTicks: undefined,
  };
}

const SOURCE = '/proc/<pid>/stat';
/** Fields after the command name that must be present: up to rss (field 24). */
const REQUIRED_AFTER_COMM = 22;
const SPACE = 32;
const OPEN = 40;
const CLOSE = 41;

/** Indexes (field number − 3) of the numeric fields read after the command name. */
const NUMERIC = [1, 7, 9, 11, 12, 13, 14, 17, 19, 20, 21, 39];
const WANTED = new Uint8Array(40);
for (const index of NUMERIC) WANTED[index] = 1;
/** The numeric fields of the line being parsed, by index; reused from call to call. */
const scratch = new Float64Array(40);

/** Parses `/proc/<pid>/stat` (see {@link parsePidStatInto}). */
export function parsePidStat(text: string): PidStat {
  const stat = emptyPidStat();
  parsePidStatInto(Buffer.from(text, 'utf8'), stat);
  return stat;
}

/**
 * Parses the bytes of `/proc/<pid>/stat` (`bytes[0, length)`) into `into`, which is changed only when the whole line
 * is valid. The command name may contain spaces and parentheses, so it runs from the first `(`
 * to the LAST `)`; the other fields are separated by spaces after it and are scanned in place.
 * The command name and state are made into strings only when they differ from `into`'s: the
 * process receiver parses every process of the host into the stat it keeps for it, scrape
 * after scrape, without garbage.
 */
export function parsePidStatInto(bytes: Uint8Array, into: MutablePidStat, length = bytes.length): void {
  let open = bytes.indexOf(OPEN);
  if (open >= length) open = -1;
  const close = length === 0 ? -1 : bytes.lastIndexOf(CLOSE, length - 1);
  if (open < 0 || close < open)
    throw new ParseError(SOURCE, 1, `no "(comm)" field in ${JSON.stringify(textOf(bytes, 0, length))}`);
  const pid = pidOf(bytes, open);
  let end = length;
  while (end > close && isSpace(bytes[end - 1] ?? 0)) end -= 1;
  // Field index + 3 of proc_pid_stat(5), from the one after the command name.
  let index = 0;
  let stateStart = 0;
  let stateEnd = 0;
  for (let start = close + 2; start <= end; index++) {
    let stop = bytes.indexOf(SPACE, start);
    if (stop < 0 || stop > end) stop = end;
    if (index === 0) {
      stateStart = start;
      stateEnd = stop;
    } else if (index < 40 && WANTED[index] === 1) {
      const value = integerAt(bytes, start, stop);
      if (value === undefined)
        throw new ParseError(
          SOURCE,
          1,
          `field ${index + 3} is not a number: ${JSON.stringify(textOf(bytes, start, stop))}`,
        );
      scratch[index] = value;
    }
    start = stop + 1;
  }
  if (index < REQUIRED_AFTER_COMM)
    throw new ParseError(SOURCE, 1, `truncated: ${index + 2} fields, expected at least 24`);
  const field = (i: number): number => scratch[i] ?? 0;
  into.pid = pid;
  if (!sameText(bytes, open + 1, close, into.comm)) into.comm = textOf(bytes, open + 1, close);
  if (!sameText(bytes, stateStart, stateEnd, into.state)) into.state = textOf(bytes, stateStart, stateEnd);
  into.ppid = field(1);
  into.minflt = field(7);
  into.majflt = field(9);
  into.utime = field(11);
  into.stime = field(12);
  into.cutime = field(13);
  into.cstime = field(14);
  into.numThreads = field(17);
  into.starttime = field(19);
  into.vsize = field(20);
  into.rss = field(21);
  into.delayacctBlkioTicks = index > 39 ? field(39) : undefined;
}

/** The pid before the command name: digits then a space, or whatever `Number` reads of the trimmed text. */
function pidOf(bytes: Uint8Array, open: number): number {
  const fast = bytes[open - 1] === SPACE ? integerAt(bytes, 0, open - 1) : undefined;
  if (fast !== undefined && Number.isSafeInteger(fast)) return fast;
  const text = textOf(bytes, 0, open);
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || text.trim() === '')
    throw new ParseError(SOURCE, 1, `pid is not a number: ${JSON.stringify(text)}`);
  return pid;
}
