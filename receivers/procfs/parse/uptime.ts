import { ParseError } from '../../../kit/errors.ts';

/** Parses /proc/uptime: seconds since boot (the first field). */
export function parseUptime(text: string): number {
  const first = text.trim().split(/\s+/)[0];
  const value = first === undefined || first === '' ? Number.NaN : Number(first);
  if (!Number.isFinite(value))
    throw new ParseError('/proc/uptime', 1, `expected seconds, got ${JSON.stringify(text.trim())}`);
  return value;
}
