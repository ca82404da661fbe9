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
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line += 1;
    if (end > start) {
      const space = text.indexOf(' ', start);
      if (space < 0 || space >= end)
        throw new ParseError(
          source,
          line,
          `expected "key value", got ${JSON.stringify(text.slice(start, end))}`,
        );
      const raw = text.slice(space + 1, end);
      if (!/^-?\d+$/.test(raw))
        throw new ParseError(
          source,
          line,
          `value of ${text.slice(start, space)} is not an integer: ${JSON.stringify(raw)}`,
        );
      values.set(text.slice(start, space), Number(raw));
    }
    start = end + 1;
  }
  return values;
}
