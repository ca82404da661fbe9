import { ParseError } from '../../../kit/errors.ts';
import { parseInteger } from '../../../kit/procfs/fields.ts';

/**
 * A "flat keyed" cgroup file (Documentation/admin-guide/cgroup-v2.rst, "Format"): one
 * `KEY VALUE` pair per line. cpu.stat and memory.stat (v1 and v2), memory.events,
 * cpuacct.stat (v1) have this shape.
 *
 * Every key is kept, including keys this receiver does not export (newer kernels add keys:
 * `zswap`, `nr_bursts`, `core_sched.force_idle_usec`, …); the scraper picks the ones it knows.
 * Values are parsed as numbers: the few that exceed 2^53 (`hierarchical_memory_limit` on a
 * cgroup without limit) lose their last digits, which no exported metric depends on.
 *
 * @throws ParseError when a line has no value or a value that is not a decimal integer (a
 *   truncated read shows as a last line without its value).
 */
export function parseFlatKeyed(text: string, source: string): Map<string, number> {
  const values = new Map<string, number>();
  scanFlatKeyed(text, source, (keyStart, keyEnd, value) => {
    values.set(text.slice(keyStart, keyEnd), value);
  });
  return values;
}

/**
 * Goes through the `KEY VALUE` lines of a flat keyed file, handing each key's place in `text`
 * and its value to `pair`, without cutting anything out of the text.
 * @throws ParseError as {@link parseFlatKeyed} documents.
 */
function scanFlatKeyed(
  text: string,
  source: string,
  pair: (keyStart: number, keyEnd: number, value: number) => void,
): void {
  let line = 0;
  let start = 0;
  const length = text.length;
  while (start < length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = length;
    line += 1;
    if (end > start) {
      const space = text.indexOf(' ', start);
      if (space < 0 || space >= end)
        throw new ParseError(
          source,
          line,
          `expected "key value", got ${JSON.stringify(text.slice(start, end))}`,
        );
      const value = parseInteger(text, space + 1, end);
      if (value === undefined)
        throw new ParseError(
          source,
          line,
          `value of ${text.slice(start, space)} is not an integer: ${JSON.stringify(text.slice(space + 1, end))}`,
        );
      pair(start, space, value);
    }
    start = end + 1;
  }
}

/**
 * A flat keyed file read for a fixed set of keys, without building a map: each line's key is
 * hashed from its characters in place and looked up among the known keys, and its value goes
 * into a slot reused from file to file. What the scraper uses for the files it reads from
 * every cgroup on every scrape (memory.stat has some forty lines, of which a dozen are
 * exported). Every line is still checked as {@link parseFlatKeyed} checks it, so a truncated
 * or garbled file fails the same way. `get` answers for the file read last.
 */
export class FlatKeyedReader {
  readonly #slots = new Map<string, number>();
  readonly #byHash = new Map<number, number>();
  readonly #keys: readonly string[];
  readonly #values: Float64Array;
  /** The text being read (for {@link #pair}). */
  #text = '';

  constructor(keys: readonly string[]) {
    this.#keys = keys;
    this.#values = new Float64Array(keys.length).fill(Number.NaN);
    keys.forEach((key, slot) => {
      const hash = hashKey(key, 0, key.length);
      if (this.#byHash.has(hash)) throw new Error(`flat keyed reader: keys with the same hash (${key})`);
      this.#byHash.set(hash, slot);
      this.#slots.set(key, slot);
    });
  }

  /**
   * Reads `text`: afterwards {@link get} gives the value of each known key it has.
   * @throws ParseError as {@link parseFlatKeyed} does.
   */
  read(text: string, source: string): this {
    this.#text = text;
    this.#values.fill(Number.NaN);
    try {
      scanFlatKeyed(text, source, this.#pair);
    } finally {
      this.#text = '';
    }
    return this;
  }

  /** One line of the file being read: its value goes to the key's slot when the key is known. */
  readonly #pair = (keyStart: number, keyEnd: number, value: number): void => {
    const text = this.#text;
    const slot = this.#byHash.get(hashKey(text, keyStart, keyEnd));
    if (slot === undefined) return;
    const key = this.#keys[slot] ?? '';
    if (key.length === keyEnd - keyStart && text.startsWith(key, keyStart)) this.#values[slot] = value;
  };

  /** The value of `key` in the file read last; undefined when it had none (or `key` is not known). */
  get(key: string): number | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const value = this.#values[slot] ?? Number.NaN;
    return Number.isNaN(value) ? undefined : value;
  }
}

/** A 31-bit hash of the characters `text[from, to)`. */
function hashKey(text: string, from: number, to: number): number {
  let hash = 0;
  for (let i = from; i < to; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}
