import { describe, expect, it } from 'vitest';
import { writeDecimal } from './decimal.ts';

/** What writeDecimal writes for `value`, or undefined when it leaves it to String(). */
function written(value: number): string | undefined {
  const buffer = Buffer.alloc(32);
  const end = writeDecimal(buffer, 3, value);
  if (end < 0) return undefined;
  expect(buffer.subarray(0, 3)).toEqual(Buffer.alloc(3));
  return buffer.toString('latin1', 3, end);
}

describe('writeDecimal', () => {
  it('writes integers and short decimals as String() does, and negative zero as -0', () => {
    expect(written(-0)).toBe('-0');
    const values = [0, 1, -1, 7, 10, 100, 42.5, 0.52, -3.25, 1234.125, 0.1, 0.3, 2182.22, 1e-6, -0.000125];
    values.push(12.375, 999_999_999_999_999, -999_999_999_999.5, 2 ** 31, 2 ** 31 + 0.5, 123_456_789.123456);
    // Either side of the 32-bit path's bound (n = value × 10^k below 2^31).
    values.push(2 ** 31 - 1, -(2 ** 31 - 1), 2_147_483.647, 2_147_483.648, 0.000001, 2147.483647);
    for (const value of values) expect(written(value)).toBe(String(value));
  });

  it('leaves the others to String(): long fractions, huge or tiny values, not finite', () => {
    for (const value of [
      1 / 3,
      Math.PI,
      1e-7,
      1e15,
      1e21,
      2 ** 53 - 1,
      0.1 + 0.2,
      Number.NaN,
      Infinity,
      -Infinity,
    ])
      expect(written(value)).toBeUndefined();
  });

  it('reads back as the same double for any value it takes (seeded sweep)', () => {
    let seed = 17;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let taken = 0;
    for (let i = 0; i < 200_000; i += 1) {
      const scale = [1, 10, 100, 1000, 8, 3, 1e6, 1e9][i % 8] ?? 1;
      const value = (Math.round(random() * 10 ** (1 + (i % 15))) / scale) * (i % 5 === 0 ? -1 : 1);
      const text = written(value);
      if (text === undefined) continue;
      taken += 1;
      expect(Number(text)).toBe(value);
      expect(text).toBe(Object.is(value, -0) ? '-0' : String(value));
    }
    expect(taken).toBeGreaterThan(100_000);
  });
});
