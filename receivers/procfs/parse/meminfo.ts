import { ParseError } from '../../../kit/errors.ts';
import { isSpace, toNumber } from '../../../kit/procfs/fields.ts';
import type { ByteNames } from './byte-names.ts';
import { lineAt, textAt } from './bytes.ts';

/** /proc/meminfo (proc(5)): every field, in bytes (`kB` values × 1024; counts as they are). */
export type Meminfo = ReadonlyMap<string, number>;

const SOURCE = '/proc/meminfo';
const NEWLINE = 10;
const COLON = 58;
const K = 107;
const B = 66;

/**
 * Parses /proc/meminfo lines `Key:   value [kB]` from their bytes: every line is checked, and
 * the keys in `names` (every key when it is not given; `MemTotal` must be one) are returned.
 * The scraper reads 10 of its ~55 lines, from the client's buffer, as it does vmstat's
 * (see parseVmstat).
 */
export function parseMeminfo(source: Uint8Array | string, names?: ByteNames): Meminfo {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'latin1') : source;
  const out = new Map<string, number>();
  const n = bytes.length;
  let line = 0;
  let i = 0;
  while (i < n) {
    line += 1;
    const start = i;
    while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
    if (i === n || bytes[i] === NEWLINE) {
      i++; // a blank line
      continue;
    }
    const bad = (): ParseError =>
      new ParseError(SOURCE, line, `expected "Key: value [kB]", got ${JSON.stringify(lineAt(bytes, start))}`);
    let colon = start;
    while (colon < n && bytes[colon] !== COLON && bytes[colon] !== NEWLINE) colon++;
    if (colon === start || bytes[colon] !== COLON) throw bad();
    i = colon + 1;
    while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
    const valueStart = i;
    let value = 0;
    let digits = true;
    while (i < n && !isSpace(bytes[i] ?? NEWLINE)) {
      const digit = (bytes[i] ?? 0) - 48;
      if (digit < 0 || digit > 9) digits = false;
      value = value * 10 + digit;
      i++;
    }
    const valueEnd = i;
    while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
    let kB = false;
    if (i < n && bytes[i] !== NEWLINE) {
      if (bytes[i] !== K || bytes[i + 1] !== B) throw bad();
      kB = true;
      i += 2;
      while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
      if (i < n && bytes[i] !== NEWLINE) throw bad();
    }
    i++; // past the newline
    const key = names === undefined ? textAt(bytes, start, colon) : names.find(bytes, start, colon);
    if (key === undefined) continue;
    // Up to 15 digits are summed exactly; longer fields, empty ones and others go through Number.
    if (!digits || valueStart === valueEnd || valueEnd - valueStart > 15)
      value = toNumber(textAt(bytes, valueStart, valueEnd), SOURCE, line, key);
    out.set(key, kB ? value * 1024 : value);
  }
  if (!out.has('MemTotal')) throw new ParseError(SOURCE, 1, 'no MemTotal');
  return out;
}
