import { ParseError } from '../../../kit/errors.ts';

/**
 * A single-value cgroup file: one decimal integer and a newline (memory.current,
 * pids.current, cpuacct.usage, memory.usage_in_bytes, …).
 *
 * @throws ParseError when the content is not exactly one integer.
 */
export function parseSingleValue(text: string, source: string): number {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed))
    throw new ParseError(source, 1, `expected one integer, got ${JSON.stringify(trimmed)}`);
  return Number(trimmed);
}

/**
 * A limit in bytes: cgroup v2 memory.max (`max` means no limit) or cgroup v1
 * memory.limit_in_bytes (no limit is written as the largest page-aligned signed 64-bit
 * value, 9223372036854771712). Returns undefined when there is no limit: any value of 2^62
 * bytes (4 EiB) or more is taken as "no limit".
 *
 * @throws ParseError when the content is neither `max` nor one integer.
 */
export function parseLimit(text: string, source: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === 'max') return undefined;
  const value = parseSingleValue(trimmed, source);
  return value >= 2 ** 62 ? undefined : value;
}
