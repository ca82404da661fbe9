import { ParseError } from '../../../service/errors.ts';

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
      values.set(text.slice(start, space), value);
    }
    start = end + 1;
  }
  return values;
}

/**
 * The decimal integer `text[from, to)` (an optional `-`, then digits only), undefined when it is
 * not one. Up to 15 digits are summed exactly; longer ones go through Number() for the same
 * rounding.
 */
export function parseInteger(text: string, from: number, to: number): number | undefined {
  const negative = text.charCodeAt(from) === 45;
  const first = negative ? from + 1 : from;
  if (first >= to) return undefined;
  let value = 0;
  for (let i = first; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  if (to - first > 15) value = Number(text.slice(first, to));
  return negative ? -value : value;
}
