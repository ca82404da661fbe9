import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseExposition } from './parse/exposition.ts';

// The Prometheus text format and OpenMetrics, damaged: parsed, or rejected with a ParseError
// (through the public parse function, whatever its implementation).

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', name), 'utf8');
const typed = (error: unknown): boolean => error instanceof InframeterError;

describe('exposition parser under damaged input', () => {
  for (const [name, file, openMetrics] of [
    ['text 0.0.4', 'text-0.0.4.txt', false],
    ['OpenMetrics 1.0', 'openmetrics-1.0.txt', true],
  ] as const)
    it(
      `${name}: returns or throws a ParseError`,
      () => {
        fc.assert(
          fc.property(damagedText([fixture(file)]), (text) =>
            onlyTypedErrors(() => parseExposition(text, 'http://target/metrics', openMetrics), typed),
          ),
          fuzzParameters(500),
        );
      },
      fuzzTimeout(),
    );
});
