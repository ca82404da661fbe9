import { ParseError } from '../../../kit/errors.ts';
import { integerAt, sameText, textOf } from '../../../kit/procfs/bytes.ts';
import { isSpace } from '../../../kit/procfs/fields.ts';

/** The fields of `/proc/<pid>/status` (proc_pid_status(5)) that the process receiver uses. */
export interface PidStatus {
  /** `Uid:` real user id. */
  readonly realUid: number;
  /** `Uid:` effective user id. */
  readonly effectiveUid: number;
  /** `VmSwap:` swapped-out anonymous memory, in bytes; undefined for kernel threads and zombies. */
  readonly swapBytes: number | undefined;
  /** `voluntary_ctxt_switches:` switches because the process waited for a resource. */
  readonly voluntaryCtxtSwitches: number | undefined;
  /** `nonvoluntary_ctxt_switches:` switches forced by the scheduler. */
  readonly nonvoluntaryCtxtSwitches: number | undefined;
  /** How many CPUs `Cpus_allowed_list:` lets the process run on; undefined when absent. */
  readonly cpusAllowed: number | undefined;
}

const SOURCE = '/proc/<pid>/status';
const NEWLINE = 10;
const COLON = 58;

/** Counts the CPUs of a kernel CPU list such as `0-3,8,10-11`; undefined when malformed. */
export function countCpuList(list: string): number | undefined {
  let count = 0;
  for (const part of list.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return undefined;
    count += last - first + 1;
  }
  return count;
}

function parseCount(value: string, line: number, key: string): number {
  const number = Number(value);
  if (value === '' || !Number.isSafeInteger(number) || number < 0)
    throw new ParseError(SOURCE, line, `${key} is not a number: ${JSON.stringify(value)}`);
  return number;
}

/** Parses `/proc/<pid>/status` (`Key:\tvalue` lines). `Uid:` is required; the rest is optional. */
export function parseStatus(text: string): PidStatus {
  return parseStatusBytes(Buffer.from(text, 'utf8'));
}

/**
 * Parses the bytes of `/proc/<pid>/status` (`bytes[0, length)`), as {@link parseStatus} its text: the numbers are
 * read in place, and only a value that is not plain digits is made into a string (to read it
 * as `Number` does, or to name it in the error).
 */
export function parseStatusBytes(bytes: Uint8Array, length = bytes.length): PidStatus {
  let uidSeen = false;
  let realUid = 0;
  let effectiveUid = 0;
  let swapBytes: number | undefined;
  let voluntary: number | undefined;
  let nonvoluntary: number | undefined;
  let cpusAllowed: number | undefined;
  // Only the lines of the keys below are read; the others (some fifty) are skipped.
  let i = -1;
  let start = 0;
  while (start < length) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end > length) end = length;
    i += 1;
    const lineStart = start;
    start = end + 1;
    const first = bytes[lineStart];
    // U(id), V(mSwap), v(oluntary_…), n(onvoluntary_…), C(pus_allowed_list)
    if (first !== 85 && first !== 86 && first !== 118 && first !== 110 && first !== 67) continue;
    const colon = bytes.indexOf(COLON, lineStart);
    if (colon < 0 || colon > end) continue;
    const key = knownKey(bytes, lineStart, colon);
    if (key === undefined) continue;
    // The value, without the blanks around it.
    let from = colon + 1;
    let to = end;
    while (from < to && isSpace(bytes[from] ?? 0)) from += 1;
    while (to > from && isSpace(bytes[to - 1] ?? 0)) to -= 1;
    switch (key) {
      case 'Uid': {
        // Real, effective, saved and file-system ids, scanned in place.
        let count = 0;
        let at = colon + 1;
        for (;;) {
          while (at < end && isBlank(bytes[at] ?? 0)) at += 1;
          if (at >= end) break;
          let stop = at;
          while (stop < end && !isBlank(bytes[stop] ?? 0)) stop += 1;
          if (count < 4) {
            const id = integerAt(bytes, at, stop);
            if (id === undefined || id < 0 || !Number.isSafeInteger(id))
              throw new ParseError(
                SOURCE,
                i + 1,
                `${key} is not a number: ${JSON.stringify(textOf(bytes, at, stop))}`,
              );
            if (count === 0) realUid = id;
            else if (count === 1) effectiveUid = id;
          }
          count += 1;
          at = stop;
        }
        if (count !== 4)
          throw new ParseError(
            SOURCE,
            i + 1,
            `Uid: expected 4 ids, got ${JSON.stringify(textOf(bytes, colon + 1, end).trim())}`,
          );
        uidSeen = true;
        break;
      }
      case 'VmSwap': {
        // "N kB": the digits before the unit, or the regular expression's verdict on the text.
        const digits = to - 3;
        const kB =
          digits > from && sameText(bytes, digits, to, ' kB') ? integerAt(bytes, from, digits) : undefined;
        if (kB !== undefined && kB >= 0 && Number.isSafeInteger(kB)) {
          swapBytes = kB * 1024;
          break;
        }
        const value = textOf(bytes, from, to);
        const match = /^(\S+) kB$/.exec(value);
        if (match === null)
          throw new ParseError(SOURCE, i + 1, `VmSwap: expected "N kB", got ${JSON.stringify(value)}`);
        swapBytes = parseCount(match[1] ?? '', i + 1, key) * 1024;
        break;
      }
      case 'voluntary_ctxt_switches':
        voluntary = countAt(bytes, from, to, i + 1, key);
        break;
      case 'nonvoluntary_ctxt_switches':
        nonvoluntary = countAt(bytes, from, to, i + 1, key);
        break;
      case 'Cpus_allowed_list':
        cpusAllowed = cachedCpuCount(bytes, from, to);
        if (cpusAllowed === undefined)
          throw new ParseError(
            SOURCE,
            i + 1,
            `Cpus_allowed_list: not a CPU list: ${JSON.stringify(textOf(bytes, from, to))}`,
          );
        break;
      default:
        break;
    }
  }
  if (!uidSeen) {
    let lines = 1;
    for (let i = 0; i < length; i++) if (bytes[i] === NEWLINE) lines += 1;
    throw new ParseError(SOURCE, lines, 'no Uid: line');
  }
  return {
    realUid,
    effectiveUid,
    swapBytes,
    voluntaryCtxtSwitches: voluntary,
    nonvoluntaryCtxtSwitches: nonvoluntary,
    cpusAllowed,
  };
}

/** The count `bytes[from, to)`: plain digits read in place, anything else as {@link parseCount} reads it. */
function countAt(bytes: Uint8Array, from: number, to: number, line: number, key: string): number {
  const value = from < to && bytes[from] !== 45 ? integerAt(bytes, from, to) : undefined;
  if (value !== undefined && Number.isSafeInteger(value)) return value;
  return parseCount(textOf(bytes, from, to), line, key);
}

const STATUS_KEYS = [
  'Uid',
  'VmSwap',
  'voluntary_ctxt_switches',
  'nonvoluntary_ctxt_switches',
  'Cpus_allowed_list',
] as const;

/** Which of the keys read `bytes[from, to)` is, compared in place; undefined for another. */
function knownKey(bytes: Uint8Array, from: number, to: number): (typeof STATUS_KEYS)[number] | undefined {
  for (const key of STATUS_KEYS) if (sameText(bytes, from, to, key)) return key;
  return undefined;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** CPU counts of the lists seen lately: every process of a host has one of a few lists. */
const cpuCounts = new Map<string, number | undefined>();
/** The list read last, and its count: compared in place, most processes share it. */
let lastList = '';
let lastCount: number | undefined;

function cachedCpuCount(bytes: Uint8Array, from: number, to: number): number | undefined {
  if (lastList !== '' && sameText(bytes, from, to, lastList)) return lastCount;
  const list = textOf(bytes, from, to);
  lastList = list;
  lastCount = cpuCountOf(list);
  return lastCount;
}

function cpuCountOf(list: string): number | undefined {
  if (cpuCounts.has(list)) return cpuCounts.get(list);
  const count = countCpuList(list);
  if (cpuCounts.size >= 64) cpuCounts.clear();
  cpuCounts.set(list, count);
  return count;
}
