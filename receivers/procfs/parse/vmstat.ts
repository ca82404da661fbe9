import { ParseError } from '../../../kit/errors.ts';
import { isSpace, lineEnd, skipSpaces, toNumber, unsignedAt } from '../../../kit/procfs/fields.ts';

/** /proc/vmstat: `name value` counters (pages or events). */
export type Vmstat = ReadonlyMap<string, number>;

const SOURCE = '/proc/vmstat';

/**
 * Parses /proc/vmstat. The file is scanned in place: only each name is cut out of it, and
 * the values are read digit by digit (about 180 lines per scrape, every few seconds or less).
 * `into`, the map of the previous reading, is updated in place when given: it is returned
 * when it holds exactly the names of this text, a new map otherwise.
 */
export function parseVmstat(text: string, into?: Map<string, number>): Map<string, number> {
  const out = into ?? new Map<string, number>();
  let count = 0;
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
      count += 1;
    }
    start = end + 1;
  }
  // A name gone since the previous reading (or one given twice) leaves other entries than lines.
  return into !== undefined && out.size !== count ? parseVmstat(text) : out;
}
