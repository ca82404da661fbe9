import { ParseError } from '../../../kit/errors.ts';

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
  const from10 = start + 'some avg10='.length;
  const to10 = text.indexOf(' avg60=', from10);
  if (to10 < 0 || to10 > end) return undefined;
  const from60 = to10 + ' avg60='.length;
  const to60 = text.indexOf(' avg300=', from60);
  if (to60 < 0 || to60 > end) return undefined;
  const from300 = to60 + ' avg300='.length;
  const to300 = text.indexOf(' total=', from300);
  if (to300 < 0 || to300 > end) return undefined;
  const avg10 = parseNumber(text, from10, to10, true);
  const avg60 = parseNumber(text, from60, to60, true);
  const avg300 = parseNumber(text, from300, to300, true);
  const totalUsec = parseNumber(text, to300 + ' total='.length, end, false);
  if (avg10 === undefined || avg60 === undefined || avg300 === undefined || totalUsec === undefined)
    return undefined;
  return { avg10, avg60, avg300, totalUsec };
}

/** Powers of ten exactly representable, for fractions of up to 15 digits. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * Digits, then (when `decimal`) optionally a dot and digits: `\d+(?:\.\d+)?`. Up to 15 digits in
 * all are computed without a string: an exact integer divided by an exact power of ten is
 * the correctly rounded value, the same as `Number()` gives; longer ones go through `Number()`.
 */
function parseNumber(text: string, from: number, to: number, decimal: boolean): number | undefined {
  if (to <= from) return undefined;
  let dot = -1;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && decimal && dot < 0 && i > from && i < to - 1) dot = i;
    else if (c < 48 || c > 57) return undefined;
    else digits = digits * 10 + (c - 48);
  }
  const count = dot < 0 ? to - from : to - from - 1;
  if (count > 15) return Number(text.slice(from, to));
  return dot < 0 ? digits : digits / (POWERS_OF_TEN[to - dot - 1] ?? 1);
}
