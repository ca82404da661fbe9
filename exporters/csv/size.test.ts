import { describe, expect, it } from 'vitest';
import { parseSize, size } from './size.ts';

describe('parseSize', () => {
  it.each([
    ['4096', 4096],
    ['512 B', 512],
    ['100MiB', 100 * 1024 * 1024],
    ['1.5KiB', 1536],
    ['64kib', 65_536],
    ['1GB', 1_000_000_000],
    ['2 kB', 2000],
    [' 3TiB ', 3 * 1024 ** 4],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'MiB', '10 MiBs', '-1MiB', '1e3', '10 M B', '0x10', '1,000'])('rejects %j', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it('takes numbers of bytes and rejects zero in config', () => {
    expect(size().parse(2048)).toBe(2048);
    expect(size().parse('1MiB')).toBe(1_048_576);
    expect(size().safeParse(0).success).toBe(false);
    expect(size().safeParse(1.5).success).toBe(false);
    expect(size().safeParse('0MiB').error?.issues[0]?.message).toBe(
      'expected a size greater than 0 such as "100MiB", "1GB" or a number of bytes, got "0MiB"',
    );
  });
});
