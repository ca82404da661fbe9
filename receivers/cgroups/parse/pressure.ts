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

const LINE = /^(some|full) avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?) avg300=(\d+(?:\.\d+)?) total=(\d+)$/;

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
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const match = LINE.exec(line);
    if (match === null)
      throw new ParseError(
        source,
        i + 1,
        `expected "some|full avg10=… avg60=… avg300=… total=…", got ${JSON.stringify(line)}`,
      );
    const parsed: PressureLine = {
      avg10: Number(match[2]),
      avg60: Number(match[3]),
      avg300: Number(match[4]),
      totalUsec: Number(match[5]),
    };
    if (match[1] === 'some') some = parsed;
    else full = parsed;
  }
  if (some === undefined) throw new ParseError(source, 1, 'no "some" line');
  return full === undefined ? { some } : { some, full };
}
