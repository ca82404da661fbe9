import { ParseError } from '../../../service/errors.ts';
import { firstFields, lines, toNumber } from './fields.ts';

/** /proc/vmstat: `name value` counters (pages or events). */
export type Vmstat = ReadonlyMap<string, number>;

/** Parses /proc/vmstat. */
export function parseVmstat(text: string): Vmstat {
  const out = new Map<string, number>();
  for (const { line, text: l } of lines(text)) {
    const fields = firstFields(l, 3);
    if (fields.length !== 2)
      throw new ParseError('/proc/vmstat', line, `expected "name value", got ${JSON.stringify(l)}`);
    out.set(fields[0] ?? '', toNumber(fields[1], '/proc/vmstat', line, fields[0] ?? ''));
  }
  return out;
}
