import type { Parameters } from 'fast-check';
import fc, { VerbosityLevel } from 'fast-check';

/**
 * Settings of the property-based tests (fast-check). In the suite: a fixed seed and a few
 * hundred runs, so that a run is repeatable and quick. The long, nightly-style mode:
 *
 *   FUZZ_RUNS=100000 npx vitest run <file>     (FUZZ_SEED=<n> to replay a seed)
 *
 * where the seed is drawn at random unless given, and printed by fast-check on a failure.
 */
export const FIXED_SEED = 20_261_206;

export function fuzzParameters<T>(suiteRuns = 200): Parameters<T> {
  const runs = process.env.FUZZ_RUNS;
  const seed = process.env.FUZZ_SEED;
  if (runs === undefined) return { seed: seed === undefined ? FIXED_SEED : Number(seed), numRuns: suiteRuns };
  return {
    numRuns: Number(runs),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    // A long run reports its progress and the seed at the end, not only on a failure.
    verbose: VerbosityLevel.Verbose,
  };
}

/** Longest a property-based test may take: long runs get all the time they need. */
export function fuzzTimeout(suiteMs = 60_000): number {
  return process.env.FUZZ_RUNS === undefined ? suiteMs : 24 * 3_600_000;
}

/**
 * Text to feed a parser: arbitrary strings, and recorded fixtures mutated the ways files get
 * damaged (cut short, a range deleted, bytes inserted, lines repeated or swapped, digits
 * replaced by other characters), which reach far deeper into a parser than random text.
 */
export function damagedText(fixtures: readonly string[]): fc.Arbitrary<string> {
  const base = fixtures.length === 0 ? fc.constant('') : fc.constantFrom(...fixtures);
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 12 }) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.constantFrom(
        '-1',
        '1e309',
        'NaN',
        '18446744073709551616',
        ' ',
        '\t',
        '\n',
        ':',
        ',',
        '\0',
        '"',
        '{',
        '}',
      ),
    }),
    fc.record({ kind: fc.constant('repeat-line' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('digits' as const),
      replacement: fc.constantFrom('x', '-', '', '9999999999999999999', '.'),
    }),
  );
  const damaged = fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
    let t = text;
    for (const e of edits) {
      const at = t.length === 0 ? 0 : ('at' in e ? e.at : 0) % (t.length + 1);
      switch (e.kind) {
        case 'cut':
          t = t.slice(0, at);
          break;
        case 'delete':
          t = t.slice(0, at) + t.slice(at + e.length);
          break;
        case 'insert':
          t = t.slice(0, at) + e.text + t.slice(at);
          break;
        case 'repeat-line': {
          const lines = t.split('\n');
          const i = lines.length === 0 ? 0 : at % lines.length;
          lines.splice(i, 0, lines[i] ?? '');
          t = lines.join('\n');
          break;
        }
        case 'digits':
          t = t.replace(/\d+/, e.replacement);
          break;
      }
    }
    return t;
  });
  return fc.oneof({ weight: 1, arbitrary: fc.string({ maxLength: 200 }) }, { weight: 4, arbitrary: damaged });
}

/**
 * Runs `parse` on `input`: it returns, or throws an error `isTyped` accepts (a ParseError,
 * a decoder's own rejection); anything else (a TypeError, a RangeError, a non-Error) is a
 * failure of the property.
 */
export function onlyTypedErrors(parse: () => unknown, isTyped: (error: unknown) => boolean): boolean {
  try {
    parse();
    return true;
  } catch (error) {
    if (isTyped(error)) return true;
    throw error;
  }
}
