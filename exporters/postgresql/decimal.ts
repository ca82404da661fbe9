/**
 * Writing a double as decimal ASCII digits straight into a buffer, for the COPY text's `value`
 * column: `String(value)` and then writing the string cost about 3× as much per row, the
 * largest single cost of a row in bench/postgresql.bench.ts.
 *
 * Only values that are exactly a decimal with at most {@link MAX_FRACTION_DIGITS} digits after
 * the point and fewer than 16 significant digits take this path (integers, and most measured
 * values: 42.5, 0.52, 1234.125); {@link writeDecimal} returns -1 for the others, which the
 * caller writes with `String(value)`.
 *
 * Why the value is exact: with `n = value × 10^k` an integer and `n / 10^k === value`,
 * `value` is the double nearest to the decimal `n / 10^k` (IEEE division rounds to nearest,
 * and `n` and `10^k` are exact), which is what PostgreSQL's float8 input (strtod) reads back
 * from those digits. The smallest such `k` is taken and trailing zeros dropped, so the digits
 * are the shortest, as `String(value)` writes them.
 */

export const MAX_FRACTION_DIGITS = 6;
const POWERS = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
/** Below this, every decimal reads back as one double only (15 significant digits). */
const LIMIT = 1e15;
const ZERO = 0x30;
const MINUS = 0x2d;
const POINT = 0x2e;

/**
 * Writes `value` at `at` in `buffer` (which must have 24 bytes free there); returns the
 * offset just past it, or -1 (nothing written) for a value this path does not take.
 */
export function writeDecimal(buffer: Uint8Array, at: number, value: number): number {
  for (let k = 0; k <= MAX_FRACTION_DIGITS; k += 1) {
    const power = POWERS[k] ?? 1;
    let n = value * power;
    if (!Number.isInteger(n) || n >= LIMIT || n <= -LIMIT || n / power !== value) continue;
    // Negative zero keeps its sign: PostgreSQL reads `-0` back as it.
    if (n < 0 || (n === 0 && 1 / n < 0)) {
      buffer[at] = MINUS;
      at += 1;
      n = -n;
    }
    let fraction = k;
    // Math.floor rather than `%`, which is a call into C for doubles.
    while (fraction > 0 && Math.floor(n / 10) * 10 === n) {
      n /= 10;
      fraction -= 1;
    }
    return writeFixed(buffer, at, n, fraction);
  }
  return -1;
}

/** Writes the non-negative integer `n` (< 10^15) divided by 10^fraction, digit by digit. */
function writeFixed(buffer: Uint8Array, at: number, n: number, fraction: number): number {
  if (n < SMALL) return writeFixedSmall(buffer, at, n, fraction);
  let digits = 1;
  for (let bound = 10; n >= bound; bound *= 10) digits += 1;
  // 0.00ddd: a zero before the point, zeros after it, then the digits.
  const whole = digits > fraction ? digits - fraction : 1;
  const end = at + whole + (fraction > 0 ? 1 + fraction : 0);
  let pos = end;
  for (let i = 0; i < fraction; i += 1) {
    const rest = Math.floor(n / 10);
    pos -= 1;
    buffer[pos] = ZERO + (n - rest * 10);
    n = rest;
  }
  if (fraction > 0) {
    pos -= 1;
    buffer[pos] = POINT;
  }
  while (pos > at) {
    const rest = Math.floor(n / 10);
    pos -= 1;
    buffer[pos] = ZERO + (n - rest * 10);
    n = rest;
  }
  return end;
}

/** Below this, digits are worked out in 32-bit integers (most values). */
const SMALL = 2 ** 31;

/**
 * {@link writeFixed} for `n` below {@link SMALL}: the same digits with 32-bit integer division
 * (`(n / 10) | 0`, which the compiler turns into a multiplication), a third cheaper per value
 * than Math.floor on doubles (bench/postgresql.bench.ts, "ours, no queue").
 */
function writeFixedSmall(buffer: Uint8Array, at: number, n: number, fraction: number): number {
  let small = n | 0;
  let digits = 1;
  for (let rest = (small / 10) | 0; rest > 0; rest = (rest / 10) | 0) digits += 1;
  const whole = digits > fraction ? digits - fraction : 1;
  const end = at + whole + (fraction > 0 ? 1 + fraction : 0);
  let pos = end;
  for (let i = 0; i < fraction; i += 1) {
    const rest = (small / 10) | 0;
    pos -= 1;
    buffer[pos] = ZERO + small - rest * 10;
    small = rest;
  }
  if (fraction > 0) {
    pos -= 1;
    buffer[pos] = POINT;
  }
  while (pos > at) {
    const rest = (small / 10) | 0;
    pos -= 1;
    buffer[pos] = ZERO + small - rest * 10;
    small = rest;
  }
  return end;
}
