import { ParseError } from '../../../kit/errors.ts';
import { toNumber } from '../../../kit/procfs/fields.ts';
import type { ByteNames } from './byte-names.ts';
import { fieldEnd, lineAt, NEWLINE, skipBlanks, textAt, unsignedAt } from '../../../kit/procfs/bytes.ts';

/** /proc/meminfo (proc(5)): every field, in bytes (`kB` values × 1024; counts as they are). */
export type Meminfo = ReadonlyMap<string, number>;

const SOURCE = '/proc/meminfo';
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
    i = skipBlanks(bytes, i);
    if (i === n || bytes[i] === NEWLINE) {
      i++; // a blank line
      continue;
    }
    const bad = (): ParseError =>
      new ParseError(SOURCE, line, `expected "Key: value [kB]", got ${JSON.stringify(lineAt(bytes, start))}`);
    let colon = start;
    while (colon < n && bytes[colon] !== COLON && bytes[colon] !== NEWLINE) colon++;
    if (colon === start || bytes[colon] !== COLON) throw bad();
    const valueStart = skipBlanks(bytes, colon + 1);
    const valueEnd = fieldEnd(bytes, valueStart);
    i = skipBlanks(bytes, valueEnd);
    let kB = false;
    if (i < n && bytes[i] !== NEWLINE) {
      if (bytes[i] !== K || bytes[i + 1] !== B) throw bad();
      kB = true;
      i = skipBlanks(bytes, i + 2);
      if (i < n && bytes[i] !== NEWLINE) throw bad();
    }
    i++; // past the newline
    const key = names === undefined ? textAt(bytes, start, colon) : names.find(bytes, start, colon);
    if (key === undefined) continue;
    let value = unsignedAt(bytes, valueStart, valueEnd);
    if (Number.isNaN(value)) value = toNumber(textAt(bytes, valueStart, valueEnd), SOURCE, line, key);
    out.set(key, kB ? value * 1024 : value);
  }
  if (!out.has('MemTotal')) throw new ParseError(SOURCE, 1, 'no MemTotal');
  return out;
}
