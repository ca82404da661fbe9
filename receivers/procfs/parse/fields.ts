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
