import type { Parameters } from 'fast-check';
import { VerbosityLevel } from 'fast-check';

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
