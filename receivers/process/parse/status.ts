import { ParseError } from '../../../kit/errors.ts';
import { parseInteger } from '../../../kit/procfs/fields.ts';

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
  let uidSeen = false;
  let realUid = 0;
  let effectiveUid = 0;
  let swapBytes: number | undefined;
  let voluntary: number | undefined;
  let nonvoluntary: number | undefined;
  let cpusAllowed: number | undefined;
  // Only the lines of the keys below are cut out of the text; the others (some fifty) are skipped.
  let i = -1;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    i += 1;
    const lineStart = start;
    start = end + 1;
    const first = text.charCodeAt(lineStart);
    // U(id), V(mSwap), v(oluntary_…), n(onvoluntary_…), C(pus_allowed_list)
    if (first !== 85 && first !== 86 && first !== 118 && first !== 110 && first !== 67) continue;
    const colon = text.indexOf(':', lineStart);
    if (colon < 0 || colon > end) continue;
    const key = knownKey(text, lineStart, colon);
    if (key === undefined) continue;
    const value = key === 'Uid' ? '' : text.slice(colon + 1, end).trim();
    switch (key) {
      case 'Uid': {
        // Real, effective, saved and file-system ids, scanned in place.
        let count = 0;
        let at = colon + 1;
        for (;;) {
          while (at < end && isBlank(text.charCodeAt(at))) at += 1;
          if (at >= end) break;
          let stop = at;
          while (stop < end && !isBlank(text.charCodeAt(stop))) stop += 1;
          if (count < 4) {
            const id = parseInteger(text, at, stop);
            if (id === undefined || id < 0 || !Number.isSafeInteger(id))
              throw new ParseError(
                SOURCE,
                i + 1,
                `${key} is not a number: ${JSON.stringify(text.slice(at, stop))}`,
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
            `Uid: expected 4 ids, got ${JSON.stringify(text.slice(colon + 1, end).trim())}`,
          );
        uidSeen = true;
        break;
      }
      case 'VmSwap': {
        const match = /^(\S+) kB$/.exec(value);
        if (match === null)
          throw new ParseError(SOURCE, i + 1, `VmSwap: expected "N kB", got ${JSON.stringify(value)}`);
        swapBytes = parseCount(match[1] ?? '', i + 1, key) * 1024;
        break;
      }
      case 'voluntary_ctxt_switches':
        voluntary = parseCount(value, i + 1, key);
        break;
      case 'nonvoluntary_ctxt_switches':
        nonvoluntary = parseCount(value, i + 1, key);
        break;
      case 'Cpus_allowed_list':
        cpusAllowed = cachedCpuCount(value);
        if (cpusAllowed === undefined)
          throw new ParseError(SOURCE, i + 1, `Cpus_allowed_list: not a CPU list: ${JSON.stringify(value)}`);
        break;
      default:
        break;
    }
  }
  if (!uidSeen) throw new ParseError(SOURCE, text.split('\n').length, 'no Uid: line');
  return {
    realUid,
    effectiveUid,
    swapBytes,
    voluntaryCtxtSwitches: voluntary,
    nonvoluntaryCtxtSwitches: nonvoluntary,
    cpusAllowed,
  };
}

const STATUS_KEYS = [
  'Uid',
  'VmSwap',
  'voluntary_ctxt_switches',
  'nonvoluntary_ctxt_switches',
  'Cpus_allowed_list',
] as const;

/** Which of the keys read `text[from, to)` is, compared in place; undefined for another. */
function knownKey(text: string, from: number, to: number): (typeof STATUS_KEYS)[number] | undefined {
  for (const key of STATUS_KEYS) if (key.length === to - from && text.startsWith(key, from)) return key;
  return undefined;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** CPU counts of the lists seen lately: every process of a host has one of a few lists. */
const cpuCounts = new Map<string, number | undefined>();

function cachedCpuCount(list: string): number | undefined {
  if (cpuCounts.has(list)) return cpuCounts.get(list);
  const count = countCpuList(list);
  if (cpuCounts.size >= 64) cpuCounts.clear();
  cpuCounts.set(list, count);
  return count;
}
