import { describe, expect, it } from 'vitest';
import {
  escapeKey,
  escapeMeasurement,
  formatFloat,
  formatInteger,
  formatTimestamp,
  LineBatch,
} from './line-protocol.ts';

describe('line protocol', () => {
  it('escapes tag keys, tag values and field keys: comma, equals sign, space', () => {
    expect(escapeKey('cpu.mode')).toBe('cpu.mode');
    expect(escapeKey('a,b=c d')).toBe('a\\,b\\=c\\ d');
    expect(escapeKey('two\nlines\r')).toBe('two\\ lines\\ ');
    expect(escapeKey('C:\\Program Files\\x')).toBe('C:\\Program\\ Files\\x');
  });

  it('leaves out backslashes InfluxDB would read as escapes, and renames time', () => {
    expect(escapeKey('trailing\\')).toBe('trailing');
    expect(escapeKey('a\\,b')).toBe('a\\,b');
    expect(escapeKey('a\\ b')).toBe('a\\ b');
    expect(escapeKey('time')).toBe('time_');
    expect(escapeKey('time\\')).toBe('time_');
    expect(escapeKey('timer')).toBe('timer');
  });

  it('escapes measurements: comma and space only', () => {
    expect(escapeMeasurement('system.cpu.time')).toBe('system.cpu.time');
    expect(escapeMeasurement('a,b c=d')).toBe('a\\,b\\ c=d');
  });

  it('writes floats in shortest round-trip form and refuses NaN and infinities', () => {
    expect(formatFloat(0.1)).toBe('0.1');
    expect(formatFloat(1e21)).toBe('1e+21');
    expect(formatFloat(-0)).toBe('0');
    expect(formatFloat(5e-324)).toBe('5e-324');
    expect(formatFloat(Number.NaN)).toBeUndefined();
    expect(formatFloat(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('writes integers with the i suffix within the int64 range', () => {
    expect(formatInteger(0)).toBe('0i');
    expect(formatInteger(-42)).toBe('-42i');
    expect(formatInteger(2 ** 62)).toBe('4611686018427387904i');
    expect(formatInteger(2.5)).toBe('3i');
    expect(formatInteger(2 ** 63)).toBeUndefined();
    expect(formatInteger(Number.NaN)).toBeUndefined();
  });

  it('writes an exact integer beyond 2^53 as it is', () => {
    expect(formatInteger(2 ** 53, 2n ** 53n + 1n)).toBe('9007199254740993i');
    expect(formatInteger(-(2 ** 63), -(2n ** 63n))).toBe('-9223372036854775808i');
    expect(formatInteger(2 ** 63, 2n ** 63n - 1n)).toBe('9223372036854775807i');
  });

  it('writes timestamps in each precision, truncated, without float rounding', () => {
    const t: [number, number] = [1_764_000_000, 123_456_789];
    expect(formatTimestamp(t, 'ns')).toBe('1764000000123456789');
    expect(formatTimestamp(t, 'us')).toBe('1764000000123456');
    expect(formatTimestamp(t, 'ms')).toBe('1764000000123');
    expect(formatTimestamp(t, 's')).toBe('1764000000');
    expect(formatTimestamp([1_764_000_000, 5], 'ns')).toBe('1764000000000000005');
    expect(formatTimestamp([0, 5], 'ns')).toBe('5');
  });

  it('joins lines and counts points and skipped points', () => {
    const batch = new LineBatch();
    batch.add('m,t=a', 'value=1', '1', 1);
    batch.add('m,t=b', 'a=1i,b=2i', '2', 2);
    batch.skip('not_a_number');
    batch.skip('not_a_number', 2);
    expect(batch.text()).toBe('m,t=a value=1 1\nm,t=b a=1i,b=2i 2');
    expect(batch.lines).toBe(2);
    expect(batch.points).toBe(3);
    expect([...batch.skipped]).toEqual([['not_a_number', 3]]);
  });
});
