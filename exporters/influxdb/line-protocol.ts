import type { HrTime } from '@opentelemetry/api';
import type { Precision } from './config.ts';

/**
 * InfluxDB line protocol (`measurement,tag=v field=1i 1700000000000000000`), the text format
 * of `/write` (1.x) and `/api/v2/write` (2.x). Escaping, from the line protocol reference:
 *
 * - measurement: `,` and space are escaped with a backslash;
 * - tag keys, tag values and field keys: `,`, `=` and space are escaped;
 * - newlines cannot be carried in any of them: `\n` and `\r` become spaces (then escaped);
 * - a backslash is literal, except that InfluxDB 1.x reads a backslash before a separator or
 *   at the end of a key as an escape; such backslashes cannot be written and are left out;
 * - a tag value cannot be empty: an empty tag is left out;
 * - `time` is not allowed as a tag or field key: it is written `time_`.
 *
 * Floats are written in JavaScript's shortest round-trip form (`0.1`, `1e+21`, `-0`), which
 * InfluxDB parses back to the same double; integers with the `i` suffix. NaN and ±Infinity
 * have no line protocol form: such fields are left out (see {@link formatFloat}).
 */

const NEEDS_ESCAPE_KEY = /[,= \\\n\r]/;
const NEEDS_ESCAPE_MEASUREMENT = /[, \\\n\r]/;

function escapeWith(text: string, specials: RegExp, backslashBefore: RegExp): string {
  return text
    .replace(/[\n\r]/g, ' ')
    .replace(backslashBefore, '')
    .replace(specials, (c) => `\\${c}`);
}

/** A tag key, tag value or field key, escaped (`,`, `=` and space). */
export function escapeKey(text: string): string {
  if (!NEEDS_ESCAPE_KEY.test(text)) return text === 'time' ? 'time_' : text;
  const escaped = escapeWith(text, /[,= ]/g, /\\+(?=[\n\r,= ]|$)/g);
  return escaped === 'time' ? 'time_' : escaped;
}

/** A measurement name, escaped (`,` and space). */
export function escapeMeasurement(text: string): string {
  if (!NEEDS_ESCAPE_MEASUREMENT.test(text)) return text;
  return escapeWith(text, /[, ]/g, /\\+(?=[\n\r, ]|$)/g);
}

/** A float field value, or undefined for NaN and ±Infinity (line protocol has no form for them). */
export function formatFloat(value: number): string | undefined {
  return Number.isFinite(value) ? String(value) : undefined;
}

const INT64_LIMIT = 2 ** 63;

/**
 * An integer field value (`42i`), or undefined when the value is not a finite number within
 * the signed 64-bit range. A fraction (not expected from an integer instrument) is rounded.
 * `exact`, the exact integer a point carries beyond the safe range (kit/int64.ts), is written
 * as it is.
 */
export function formatInteger(value: number, exact?: bigint): string | undefined {
  if (exact !== undefined) return `${exact.toString()}i`;
  if (!Number.isFinite(value)) return undefined;
  const n = Number.isInteger(value) ? value : Math.round(value);
  if (n >= INT64_LIMIT || n < -INT64_LIMIT) return undefined;
  // Beyond 2^53 String() gives the shortest decimal that reads back as the same double, not
  // the double's exact integer value; BigInt gives the exact one.
  return Number.isSafeInteger(n) ? `${String(n)}i` : `${BigInt(n).toString()}i`;
}

/** The divisor of nanoseconds for each precision, and the digits kept below the second. */
const SUB_SECOND_DIGITS: Record<Precision, number> = { ns: 9, us: 6, ms: 3, s: 0 };

/**
 * An OpenTelemetry time (`[seconds, nanoseconds]`) as a line protocol timestamp in the given
 * precision, truncated (as InfluxDB truncates), without going through a float.
 */
export function formatTimestamp(time: HrTime, precision: Precision): string {
  const [seconds, nanos] = time;
  const digits = SUB_SECOND_DIGITS[precision];
  if (digits === 0) return String(seconds);
  const fraction = String(Math.floor(nanos / 10 ** (9 - digits))).padStart(digits, '0');
  return seconds === 0 ? String(Number(fraction)) : `${String(seconds)}${fraction}`;
}

/** Lines being built for one request; each knows how many data points it carries. */
export class LineBatch {
  readonly #lines: string[] = [];
  /** Data points written (a point may give one line; several points may share one). */
  points = 0;
  /** Data points left out (a value with no line protocol form, a metric outside the schema), by reason. */
  readonly skipped = new Map<string, number>();

  /** Adds one line: the measurement and tags (escaped), the fields (`k=v,…`), the timestamp. */
  add(seriesKey: string, fields: string, timestamp: string, points: number): void {
    this.#lines.push(`${seriesKey} ${fields} ${timestamp}`);
    this.points += points;
  }

  skip(reason: string, points = 1): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + points);
  }

  get lines(): number {
    return this.#lines.length;
  }

  /** The request body: lines separated by newlines. */
  text(): string {
    return this.#lines.join('\n');
  }
}
