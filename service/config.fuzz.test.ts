import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../test/support/fuzz.ts';
import { createTestFactories, createTestStore } from '../test/support/test-components.ts';
import { createRegistry, loadConfigText } from './config.ts';
import { ConfigError } from '../kit/errors.ts';

// Configuration text, damaged (the repository's own good and bad configs, cut, edited,
// lines repeated): accepted, or refused with a ConfigError listing its problems; nothing
// else escapes (a crash here would be exit 1 without a YAML path instead of exit 2).

const registry = createRegistry(createTestFactories(createTestStore()));
const dir = join(import.meta.dirname, 'testdata', 'config');
const configs = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(join(dir, f), 'utf8'));
const typed = (error: unknown): boolean => error instanceof ConfigError;

describe('configuration under damaged text', () => {
  it(
    'is accepted or refused with a ConfigError',
    () => {
      fc.assert(
        fc.property(damagedText(configs), (text) =>
          onlyTypedErrors(
            () => loadConfigText(text, 'config.yaml', registry, { INFRAMETER_TEST_DELAY: '1ms' }),
            typed,
          ),
        ),
        fuzzParameters(300),
      );
    },
    fuzzTimeout(),
  );
});
