import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseDcmiPower, parseSensors } from './parse/sensors.ts';

// `ipmi-sensors` and `ipmi-dcmi` output, damaged: parsed, or rejected with a ParseError.

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', name), 'utf8');
const typed = (error: unknown): boolean => error instanceof InframeterError;

describe('ipmi parsers under damaged input', () => {
  it(
    'ipmi-sensors --comma-separated-output: returns or throws a ParseError',
    () => {
      fc.assert(
        fc.property(damagedText([fixture('ipmi-sim-labbmc.txt'), fixture('discrete-and-na.txt')]), (text) =>
          onlyTypedErrors(() => parseSensors(text, 'ipmi-sensors'), typed),
        ),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );

  it(
    'ipmi-dcmi --get-system-power-statistics: returns or throws a ParseError',
    () => {
      fc.assert(
        fc.property(damagedText([fixture('dcmi-power.txt')]), (text) =>
          onlyTypedErrors(() => parseDcmiPower(text, 'ipmi-dcmi'), typed),
        ),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );
});
