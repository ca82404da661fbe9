import { ParseError } from '../../../kit/errors.ts';
import { isSpace, lineEnd, skipSpaces, toNumber, unsignedAt } from '../../../kit/procfs/fields.ts';

/** /proc/meminfo (proc(5)): every field, in bytes (`kB` values × 1024; counts as they are). */
export type Meminfo = ReadonlyMap<string, number>;

const SOURCE = '/proc/meminfo';

/**
 * Parses /proc/meminfo lines `Key:   value [kB]`, scanning the text in place (only the keys
 * are cut out of it).
 */
export function parseMeminfo(text: string): Meminfo {
  const out = new Map<string, number>();
  const n = text.length;
  let line = 0;
  for (let start = 0; start < n;) {
    const end = lineEnd(text, start);
    line += 1;
    if (skipSpaces(text, start, end) < end) {
      const colon = text.indexOf(':', start);
      const bad = (): ParseError =>
        new ParseError(
          SOURCE,
          line,
          `expected "Key: value [kB]", got ${JSON.stringify(text.slice(start, end))}`,
        );
      if (colon === start || colon === -1 || colon >= end) throw bad();
      const key = text.slice(start, colon);
      const valueStart = skipSpaces(text, colon + 1, end);
      let valueEnd = valueStart;
      while (valueEnd < end && !isSpace(text.charCodeAt(valueEnd))) valueEnd += 1;
      const unitStart = skipSpaces(text, valueEnd, end);
      let kB = false;
      if (unitStart < end) {
        if (!text.startsWith('kB', unitStart) || skipSpaces(text, unitStart + 2, end) !== end) throw bad();
        kB = true;
      }
      let value = unsignedAt(text, valueStart, valueEnd);
      if (Number.isNaN(value)) value = toNumber(text.slice(valueStart, valueEnd), SOURCE, line, key);
      out.set(key, kB ? value * 1024 : value);
    }
    start = end + 1;
  }
  if (!out.has('MemTotal')) throw new ParseError(SOURCE, 1, 'no MemTotal');
  return out;
}
