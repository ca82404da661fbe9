import { ParseError } from '../../../service/errors.ts';

/** One line of a PSI file: the share of wall time stalled over three windows, and the total. */
export interface PressureLine {
  /** Percent of the last 10 s, 60 s and 300 s during which tasks were stalled (0–100). */
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Total stall time since the cgroup was created, in microseconds. */
  readonly totalUsec: number;
}

/** A PSI file: `some` (at least one task stalled) and `full` (all non-idle tasks stalled). */
export interface Pressure {
  readonly some: PressureLine;
  /** Absent from cpu.pressure before Linux 5.13. */
  readonly full?: PressureLine;
}

/**
 * cpu.pressure, memory.pressure, io.pressure (cgroup v2) and /proc/pressure/*: Pressure Stall
 * Information (Documentation/accounting/psi.rst):
 * `some avg10=0.12 avg60=0.05 avg300=0.01 total=123456`.
 *
 * @throws ParseError on a line of another shape or when the `some` line is missing.
 */
export function parsePressure(text: string, source: string): Pressure {
  let some: PressureLine | undefined;
  let full: PressureLine | undefined;
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line += 1;
    if (end > start) {
      const parsed = parseLine(text, start, end);
      if (parsed === undefined)
        throw new ParseError(
          source,
          line,
          `expected "some|full avg10=… avg60=… avg300=… total=…", got ${JSON.stringify(text.slice(start, end))}`,
        );
      if (text.startsWith('some', start)) some = parsed;
      else full = parsed;
    }
    start = end + 1;
  }
  if (some === undefined) throw new ParseError(source, 1, 'no "some" line');
  return full === undefined ? { some } : { some, full };
}

/** One line, `text[start, end)`; undefined when it is not of the PSI shape. */
function parseLine(text: string, start: number, end: number): PressureLine | undefined {
  if (!text.startsWith('some avg10=', start) && !text.startsWith('full avg10=', start)) return undefined;
  let at = start + 'some avg10='.length;
  const fields: number[] = [];
  for (const [next, decimal] of FIELDS) {
    const stop = next === '' ? end : text.indexOf(next, at);
    if (stop < 0 || stop > end) return undefined;
    const value = parseNumber(text, at, stop, decimal);
    if (value === undefined) return undefined;
    fields.push(value);
    at = stop + next.length;
  }
  const [avg10 = 0, avg60 = 0, avg300 = 0, totalUsec = 0] = fields;
  return { avg10, avg60, avg300, totalUsec };
}

/** What follows each value of a line, and whether the value may have a fraction. */
const FIELDS = [
  [' avg60=', true],
  [' avg300=', true],
  [' total=', true],
  ['', false],
] as const;

/** Digits, then (when `decimal`) optionally a dot and digits: `\d+(?:\.\d+)?`. */
function parseNumber(text: string, from: number, to: number, decimal: boolean): number | undefined {
  let dot = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && decimal && dot < 0 && i > from && i < to - 1) dot = i;
    else if (c < 48 || c > 57) return undefined;
  }
  return to > from ? Number(text.slice(from, to)) : undefined;
}
