import { isSpace } from '../../../kit/procfs/fields.ts';

/**
 * Reading procfs text from its bytes (the client's buffer), for the parsers that take bytes
 * instead of a string: positions in, positions out, no string made unless asked.
 */

export const NEWLINE = 10;

/** The text of `bytes[start, end)` (ASCII). */
export function textAt(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** The text of the line that starts at `start`, without its newline. */
export function lineAt(bytes: Uint8Array, start: number): string {
  const end = bytes.indexOf(NEWLINE, start);
  return textAt(bytes, start, end === -1 ? bytes.length : end);
}

/** The first index from `i` that is neither whitespace within the line nor `bytes.length`: a newline, or the next field. */
export function skipBlanks(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  while (i < n && bytes[i] !== NEWLINE && isSpace(bytes[i] ?? 0)) i++;
  return i;
}

/** The end of the field that starts at `i`: the first whitespace (a newline included) from `i`, or `bytes.length`. */
export function fieldEnd(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  while (i < n && !isSpace(bytes[i] ?? NEWLINE)) i++;
  return i;
}

/**
 * The unsigned decimal integer `bytes[start, end)`; NaN when the field is empty, is not all
 * digits, or has more than 15 (the caller then goes through `Number` of its text, for its
 * error or its rounding).
 */
export function unsignedAt(bytes: Uint8Array, start: number, end: number): number {
  if (start === end || end - start > 15) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (bytes[i] ?? 0) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}
