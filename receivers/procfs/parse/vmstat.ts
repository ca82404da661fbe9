import { ParseError } from '../../../kit/errors.ts';
import { isSpace, toNumber } from '../../../kit/procfs/fields.ts';
import type { ByteNames } from './byte-names.ts';
import { lineAt, textAt } from './bytes.ts';

/** /proc/vmstat: `name value` counters (pages or events). */
export type Vmstat = ReadonlyMap<string, number>;

const SOURCE = '/proc/vmstat';
const NEWLINE = 10;

/**
 * Parses /proc/vmstat from its bytes: every line is checked to be `name value`, and the
 * counters named in `names` (every counter when it is not given) are returned.
 *
 * The scraper reads 15 of the file's ~190 lines, so it passes the client's buffer and its
 * names: no string is made of the 4 KB text nor of the names it does not need, nor ~190 map
 * entries. With meminfo read the same way, the two parsers took 8.6–13.7 µs per scrape
 * against 29.8–45.3 µs for decoding and parsing every line (docs/performance.md, "File
 * reads: 10 calls").
 */
export function parseVmstat(source: Uint8Array | string, names?: ByteNames): Map<string, number> {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'latin1') : source;
  const out = new Map<string, number>();
  const n = bytes.length;
  let line = 0;
  let i = 0;
  while (i < n) {
    line += 1;
    const start = i;
    while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
    const nameStart = i;
    while (i < n && !isSpace(bytes[i] ?? NEWLINE)) i++;
    const nameEnd = i;
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
    const lineEnd = i;
    i++; // past the newline
    if (nameStart === nameEnd && lineEnd === nameStart) continue; // a blank line
    if (valueStart === valueEnd || nameStart === nameEnd || (lineEnd < n && bytes[lineEnd] !== NEWLINE))
      throw new ParseError(
        SOURCE,
        line,
        `expected "name value", got ${JSON.stringify(lineAt(bytes, start))}`,
      );
    const name =
      names === undefined ? textAt(bytes, nameStart, nameEnd) : names.find(bytes, nameStart, nameEnd);
    if (name === undefined) continue;
    // Up to 15 digits are summed exactly; longer fields and others go through Number.
    if (!digits || valueEnd - valueStart > 15)
      value = toNumber(textAt(bytes, valueStart, valueEnd), SOURCE, line, name);
    out.set(name, value);
  }
  return out;
}
