import { ParseError } from '../../../kit/errors.ts';

/** /proc/loadavg (proc(5)): 1, 5 and 15 minute load averages. */
export interface Loadavg {
  readonly one: number;
  readonly five: number;
  readonly fifteen: number;
}

/** Parses /proc/loadavg. */
export function parseLoadavg(text: string): Loadavg {
  const [one, five, fifteen] = text.trim().split(/\s+/, 3).map(Number);
  if (
    one === undefined ||
    five === undefined ||
    fifteen === undefined ||
    ![one, five, fifteen].every(Number.isFinite)
  ) {
    throw new ParseError(
      '/proc/loadavg',
      1,
      `expected three load averages, got ${JSON.stringify(text.trim())}`,
    );
  }
  return { one, five, fifteen };
}
