import { ParseError } from '../errors.ts';

/** Parses a decimal field of a procfs file; throws a ParseError naming `source:line`. */
export function toNumber(field: string | undefined, source: string, line: number, what: string): number {
  const value = field === undefined || field === '' ? Number.NaN : Number(field);
  if (!Number.isFinite(value))
    throw new ParseError(source, line, `${what}: expected a number, got ${JSON.stringify(field ?? '')}`);
  return value;
}

/** Splits text into non-empty lines with their 1-based line numbers. */
export function lines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const all = text.split('\n');
  for (let i = 0; i < all.length; i += 1) {
    const t = all[i] ?? '';
    if (t.trim() !== '') out.push({ line: i + 1, text: t });
  }
  return out;
}

/**
 * The first `count` whitespace-separated fields of a line, without splitting the rest (the
 * `intr` line of /proc/stat has thousands of fields of which one is read).
 */
export function firstFields(text: string, count: number): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  while (out.length < count) {
    while (i < n && isSpace(text.charCodeAt(i))) i += 1;
    if (i === n) break;
    const start = i;
    while (i < n && !isSpace(text.charCodeAt(i))) i += 1;
    out.push(text.slice(start, i));
  }
  return out;
}

/** Space, tab, and the other ASCII whitespace `\s` matches in procfs text. */
export function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/** The index of the newline ending the line that starts at `start`, or the text's length. */
export function lineEnd(text: string, start: number): number {
  const end = text.indexOf('\n', start);
  return end === -1 ? text.length : end;
}

/** The first index from `i` (before `end`) that is not whitespace, or `end`. */
export function skipSpaces(text: string, i: number, end: number): number {
  while (i < end && isSpace(text.charCodeAt(i))) i += 1;
  return i;
}

/**
 * The unsigned decimal integer `text[start, end)`, read without cutting it out; NaN when the
 * field is empty, is not all digits, or is too long to be exact (the caller then falls back
 * to `Number` and its error).
 */
export function unsignedAt(text: string, start: number, end: number): number {
  if (start === end || end - start > 15) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The decimal integer `text[from, to)` (an optional `-`, then digits only), undefined when it is
 * not one. Up to 15 digits are summed exactly; longer ones go through Number() for the same
 * rounding.
 */
export function parseInteger(text: string, from: number, to: number): number | undefined {
  const negative = text.charCodeAt(from) === 45;
  const first = negative ? from + 1 : from;
  if (first >= to) return undefined;
  let value = 0;
  for (let i = first; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  if (to - first > 15) value = Number(text.slice(first, to));
  return negative ? -value : value;
}
