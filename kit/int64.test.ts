import { describe, expect, it } from 'vitest';
import { int64FromBits, int64Of, int64ToBits, valueText, withInt64 } from './int64.ts';

const POINT = { startTime: [1, 0], endTime: [2, 0], attributes: {} } as const;

describe('exact 64-bit integers on points', () => {
  it('converts between bigint and two 32-bit halves over the whole int64 range', () => {
    for (const v of [
      0n,
      1n,
      -1n,
      2n ** 32n,
      -(2n ** 32n) - 1n,
      2n ** 53n + 1n,
      -(2n ** 63n),
      2n ** 63n - 1n,
    ]) {
      const { low, high } = int64ToBits(v);
      expect(int64FromBits(low, high)).toBe(v);
    }
    expect(int64ToBits(-1n)).toEqual({ low: -1, high: -1, unsigned: false });
    expect(int64FromBits(0, 0x80000000)).toBe(-(2n ** 63n));
  });

  it('attaches an integer beyond the safe range only, and reads it back while the value matches', () => {
    const safe = { ...POINT, value: 2 ** 53 - 1 };
    expect(withInt64(safe, 2n ** 53n - 1n)).toBe(safe);
    const big = withInt64({ ...POINT, value: 2 ** 53 }, 2n ** 53n + 1n);
    expect(int64Of(big)).toBe(2n ** 53n + 1n);
    expect(valueText(big)).toBe('9007199254740993');
    // A copy with another value keeps the property but not its meaning.
    expect(int64Of({ ...big, value: big.value * 2 })).toBeUndefined();
    expect(valueText({ ...big, value: big.value * 2 })).toBe('18014398509481984');
    const min = withInt64({ ...POINT, value: -(2 ** 63) }, -(2n ** 63n));
    expect(valueText(min)).toBe('-9223372036854775808');
    expect(String(min.value)).toBe('-9223372036854776000');
  });

  it('writes other values as JavaScript prints them', () => {
    for (const value of [0, -0.5, 42, 1e21, 2 ** 60, Number.NaN, Infinity])
      expect(valueText({ ...POINT, value })).toBe(String(value));
  });
});
