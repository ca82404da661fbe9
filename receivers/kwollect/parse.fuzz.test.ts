import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseMetricsFile } from './parse/metrics-file.ts';

// kwollect's metrics.d files, damaged: parsed, or rejected with a ParseError, through the
// public parse function.

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'testdata', 'metrics.d', name), 'utf8');
const typed = (error: unknown): boolean => error instanceof InframeterError;

describe('kwollect metrics files under damaged input', () => {
  it(
    'parseMetricsFile: returns or throws a ParseError',
    () => {
      fc.assert(
        fc.property(
          damagedText([fixture('pdu.yaml'), fixture('node-1.yaml'), fixture('prometheus.yaml')]),
          (text) => onlyTypedErrors(() => parseMetricsFile(text, 'metrics.d/x.yaml'), typed),
        ),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );
});
