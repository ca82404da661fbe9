import { ParseError } from '../../../kit/errors.ts';
import { parseInteger } from '../../../kit/procfs/fields.ts';

/** `/proc/<pid>/io` (proc_pid_io(5)): I/O counters of a process, all cumulative. */
export interface PidIo {
  /** `rchar`: bytes passed to read(2) and similar calls, from any source (cache, pipe, socket). */
  readonly rchar: number;
  /** `wchar`: bytes passed to write(2) and similar calls. */
  readonly wchar: number;
  /** `syscr`: read system calls. */
  readonly syscr: number;
  /** `syscw`: write system calls. */
  readonly syscw: number;
  /** `read_bytes`: bytes the process caused to be fetched from the storage layer. */
  readonly readBytes: number;
  /** `write_bytes`: bytes the process caused to be sent to the storage layer. */
  readonly writeBytes: number;
}

/** Parses `/proc/<pid>/io` (`key: value` lines); every key of {@link PidIo} is required. */
export function parsePidIo(text: string): PidIo {
  let rchar: number | undefined;
  let wchar: number | undefined;
  let syscr: number | undefined;
  let syscw: number | undefined;
  let readBytes: number | undefined;
  let writeBytes: number | undefined;
  // Scanned in place: the key compared where it stands, the value parsed without a string.
  let line = 0;
  let start = 0;
  const length = text.length;
  while (start < length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = length;
    line += 1;
    const lineStart = start;
    start = end + 1;
    if (end === lineStart) continue;
    const colon = text.indexOf(':', lineStart);
    if (colon < 0 || colon > end)
      throw new ParseError(
        '/proc/<pid>/io',
        line,
        `expected "key: value", got ${JSON.stringify(text.slice(lineStart, end))}`,
      );
    const key = keyAt(text, lineStart, colon);
    if (key === undefined) continue;
    let from = colon + 1;
    while (from < end && text.charCodeAt(from) <= 32) from += 1;
    let to = end;
    while (to > from && text.charCodeAt(to - 1) <= 32) to -= 1;
    const value = parseInteger(text, from, to);
    if (value === undefined)
      throw new ParseError(
        '/proc/<pid>/io',
        line,
        `${KEY_NAMES[key]} is not a number: ${JSON.stringify(text.slice(from, to))}`,
      );
    if (key === 0) rchar = value;
    else if (key === 1) wchar = value;
    else if (key === 2) syscr = value;
    else if (key === 3) syscw = value;
    else if (key === 4) readBytes = value;
    else writeBytes = value;
  }
  if (
    rchar === undefined ||
    wchar === undefined ||
    syscr === undefined ||
    syscw === undefined ||
    readBytes === undefined ||
    writeBytes === undefined
  ) {
    const found = [rchar, wchar, syscr, syscw, readBytes, writeBytes];
    const missing = KEY_NAMES.filter((_, i) => found[i] === undefined);
    throw new ParseError('/proc/<pid>/io', Math.max(1, line), `missing ${missing.join(', ')}`);
  }
  return { rchar, wchar, syscr, syscw, readBytes, writeBytes };
}

/** The keys read, in the order of their fields. */
const KEY_NAMES = ['rchar', 'wchar', 'syscr', 'syscw', 'read_bytes', 'write_bytes'] as const;

/** Which of {@link KEY_NAMES} `text[from, to)` is, undefined for another key. */
function keyAt(text: string, from: number, to: number): number | undefined {
  for (let i = 0; i < KEY_NAMES.length; i++) {
    const key = KEY_NAMES[i] ?? '';
    if (key.length === to - from && text.startsWith(key, from)) return i;
  }
  return undefined;
}
