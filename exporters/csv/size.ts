import { z } from 'zod';

/**
 * Byte sizes in config: a number of bytes, or a number with a unit. Binary units (`KiB`,
 * `MiB`, `GiB`, `TiB`) are powers of 1024, decimal ones (`kB`, `MB`, `GB`, `TB`) powers of
 * 1000, as in IEC 80000-13. Units are case-insensitive; `B` or no unit means bytes.
 */

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parses "100MiB", "1.5GB", "4096" or "512 B" into a whole number of bytes; undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size in bytes, greater than zero: a number or a string with a unit ("100MiB"). */
export function size(): z.ZodType<number, string | number> {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseSize(value);
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size greater than 0 such as "100MiB", "1GB" or a number of bytes, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}
