import { ParseError } from '../../../kit/errors.ts';
import { toNumber } from '../../../kit/procfs/fields.ts';
import type { ByteNames } from './byte-names.ts';
import { fieldEnd, lineAt, NEWLINE, skipBlanks, textAt, unsignedAt } from '../../../kit/procfs/bytes.ts';

/** /proc/vmstat: `name value` counters (pages or events). */
export type Vmstat = ReadonlyMap<string, number>;

const SOURCE = '/proc/vmstat';

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
    const nameStart = skipBlanks(bytes, i);
    const nameEnd = fieldEnd(bytes, nameStart);
    const valueStart = skipBlanks(bytes, nameEnd);
    const valueEnd = fieldEnd(bytes, valueStart);
    const lineEnd = skipBlanks(bytes, valueEnd);
    i = lineEnd + 1; // past the newline
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
    let value = unsignedAt(bytes, valueStart, valueEnd);
    if (Number.isNaN(value)) value = toNumber(textAt(bytes, valueStart, valueEnd), SOURCE, line, name);
    out.set(name, value);
  }
  return out;
}
