import { ParseError } from '../errors.ts';
import { parseInteger } from './fields.ts';

/** `/proc/<pid>/statm` (proc_pid_statm(5)): memory sizes, all in pages. */
export interface Statm {
  /** Total program size (same as VmSize in status). */
  readonly size: number;
  /** Resident set size (same as VmRSS in status). */
  readonly resident: number;
  /** Resident shared pages: file-backed and shared memory (RssFile + RssShmem). */
  readonly shared: number;
  /** Text (code). */
  readonly text: number;
  /** Data plus stack. */
  readonly data: number;
}

/** Parses `/proc/<pid>/statm`: seven numbers on one line (lib and dt are always 0 since Linux 2.6). */
export function parseStatm(text: string): Statm {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) <= 32) end -= 1;
  let start = 0;
  while (start < end && text.charCodeAt(start) <= 32) start += 1;
  // The fields, scanned in place: size resident shared text lib data dt.
  let count = 0;
  let size = 0;
  let resident = 0;
  let shared = 0;
  let textPages = 0;
  let data = 0;
  for (let at = start; at < end; count++) {
    let stop = text.indexOf(' ', at);
    if (stop < 0 || stop > end) stop = end;
    const value = parseInteger(text, at, stop);
    if (value === undefined) {
      if (count === 0 && stop === at) break;
      throw new ParseError(
        '/proc/<pid>/statm',
        1,
        `field ${count + 1} is not a number: ${JSON.stringify(text.slice(at, stop))}`,
      );
    }
    if (count === 0) size = value;
    else if (count === 1) resident = value;
    else if (count === 2) shared = value;
    else if (count === 3) textPages = value;
    else if (count === 5) data = value;
    at = stop + 1;
  }
  if (count < 7)
    throw new ParseError('/proc/<pid>/statm', 1, `expected 7 fields, got ${JSON.stringify(text)}`);
  return { size, resident, shared, text: textPages, data };
}
