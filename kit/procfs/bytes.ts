import { isSpace } from './fields.ts';

/**
 * Scanning procfs files as bytes, in a buffer the reader reuses: positions in, positions out,
 * a number read in place and a string made only when asked for or when its text changed (a
 * process's command name is the same scrape after scrape), so that reading a file, or every
 * process of a host, leaves no garbage per field.
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

/** The text of `bytes[start, end)`, decoded as UTF-8 (as a file read as text would be). */
export function textOf(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/** Whether `bytes[start, end)` decodes to `text`, compared without making a string when ASCII. */
export function sameText(bytes: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) {
    // Non-ASCII text has more bytes than UTF-16 units; ASCII of another length differs.
    for (let i = start; i < end; i++) if ((bytes[i] ?? 0) >= 0x80) return textOf(bytes, start, end) === text;
    return false;
  }
  for (let i = start; i < end; i++) {
    const byte = bytes[i] ?? 0;
    if (byte >= 0x80) return textOf(bytes, start, end) === text;
    if (byte !== text.charCodeAt(i - start)) return false;
  }
  return true;
}

/**
 * The decimal integer `bytes[from, to)` (an optional `-`, then digits only), undefined when it
 * is not one: as `parseInteger` of fields.ts reads the same text.
 */
export function integerAt(bytes: Uint8Array, from: number, to: number): number | undefined {
  const negative = bytes[from] === 45;
  const first = negative ? from + 1 : from;
  if (first >= to) return undefined;
  let value = 0;
  for (let i = first; i < to; i++) {
    const digit = (bytes[i] ?? 0) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  if (to - first > 15) value = Number(textOf(bytes, first, to));
  return negative ? -value : value;
}
