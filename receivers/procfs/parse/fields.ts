import { ParseError } from '../../../service/errors.ts';

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
function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}
