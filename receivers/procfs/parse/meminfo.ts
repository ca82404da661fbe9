import { ParseError } from '../../../service/errors.ts';
import { lines, toNumber } from './fields.ts';

/** /proc/meminfo (proc(5)): every field, in bytes (`kB` values × 1024; counts as they are). */
export type Meminfo = ReadonlyMap<string, number>;

const SOURCE = '/proc/meminfo';

/** Parses /proc/meminfo lines `Key:   value [kB]`. */
export function parseMeminfo(text: string): Meminfo {
  const out = new Map<string, number>();
  for (const { line, text: l } of lines(text)) {
    const match = /^([^:]+):\s*(\S*)\s*(kB)?\s*$/.exec(l);
    if (match === null)
      throw new ParseError(SOURCE, line, `expected "Key: value [kB]", got ${JSON.stringify(l)}`);
    const [, key = '', value, unit] = match;
    const n = toNumber(value, SOURCE, line, key);
    out.set(key, unit === 'kB' ? n * 1024 : n);
  }
  if (!out.has('MemTotal')) throw new ParseError(SOURCE, 1, 'no MemTotal');
  return out;
}
