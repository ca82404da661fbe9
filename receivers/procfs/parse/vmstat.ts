import { ParseError } from '../../../service/errors.ts';
import { isSpace, lineEnd, skipSpaces, toNumber, unsignedAt } from './fields.ts';

/** /proc/vmstat: `name value` counters (pages or events). */
export type Vmstat = ReadonlyMap<string, number>;

const SOURCE = '/proc/vmstat';

/**
 * Parses /proc/vmstat. The file is scanned in place: only each name is cut out of it, and
 * the values are read digit by digit (about 180 lines per scrape, every few seconds or less).
 */
export function parseVmstat(text: string): Vmstat {
  const out = new Map<string, number>();
  const n = text.length;
  let line = 0;
  for (let start = 0; start < n;) {
    const end = lineEnd(text, start);
    line += 1;
    const nameStart = skipSpaces(text, start, end);
    if (nameStart < end) {
      let nameEnd = nameStart;
      while (nameEnd < end && !isSpace(text.charCodeAt(nameEnd))) nameEnd += 1;
      const valueStart = skipSpaces(text, nameEnd, end);
      let valueEnd = valueStart;
      while (valueEnd < end && !isSpace(text.charCodeAt(valueEnd))) valueEnd += 1;
      if (valueStart === end || skipSpaces(text, valueEnd, end) !== end)
        throw new ParseError(
          SOURCE,
          line,
          `expected "name value", got ${JSON.stringify(text.slice(start, end))}`,
        );
      const name = text.slice(nameStart, nameEnd);
      const value = unsignedAt(text, valueStart, valueEnd);
      out.set(
        name,
        Number.isNaN(value) ? toNumber(text.slice(valueStart, valueEnd), SOURCE, line, name) : value,
      );
    }
    start = end + 1;
  }
  return out;
}
