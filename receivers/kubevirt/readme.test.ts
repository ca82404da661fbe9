import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateReadme } from '../../kit/metadata.ts';
import { metadata } from './metadata.ts';

describe('README', () => {
  it('carries the metric table of metadata.ts (UPDATE_GOLDEN=1 rewrites it)', () => {
    const path = join(import.meta.dirname, 'README.md');
    const readme = readFileSync(path, 'utf8');
    const expected = updateReadme(readme, metadata);
    if (process.env.UPDATE_GOLDEN === '1' && readme !== expected) {
      writeFileSync(path, expected);
      return;
    }
    expect(readme, 'README.md metric table is stale: run with UPDATE_GOLDEN=1').toBe(expected);
  });
});
