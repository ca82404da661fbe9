import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestFactories, createTestStore } from '../test/support/test-components.ts';
import { createRegistry, loadConfigFile, loadConfigText } from './config.ts';
import { duration, MAX_DURATION_MS } from '../kit/config-types.ts';
import { ConfigError } from '../kit/errors.ts';
import { MAX_CONFIG_BYTES } from './yaml-bounds.ts';

const registry = createRegistry(createTestFactories(createTestStore()));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function problemsOf(text: string): readonly string[] {
  try {
    loadConfigText(text, 'config.yaml', registry, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('accepted');
}

const pipeline = `
exporters:
  memory:
service:
  pipelines:
    metrics: { receivers: [ticker], exporters: [memory] }
`;

describe('bounds of the configuration', () => {
  it('refuses a duration longer than a timer can wait, with its YAML path', () => {
    expect(duration().safeParse(MAX_DURATION_MS).success).toBe(true);
    expect(duration().safeParse(MAX_DURATION_MS + 1).success).toBe(false);
    expect(duration().safeParse('596h').success).toBe(true);
    expect(duration().safeParse('597h').success).toBe(false);
    const problems = problemsOf(`receivers:\n  ticker:\n    collection_interval: 99999999999h\n${pipeline}`);
    expect(problems).toEqual([
      'receivers.ticker.collection_interval: must be at most 2147483647 ms (about 24.8 days, the longest a timer can wait), got "99999999999h"',
    ]);
  });

  it('refuses a YAML alias bomb with the path of the alias that expands most, without expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
      'g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]',
      'h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]',
      'receivers:',
      '  ticker:',
      '    step: [*h, *h, *h, *h, *h, *h, *h, *h, *h]',
    ].join('\n');
    const started = performance.now();
    const problems = problemsOf(bomb);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^config\.yaml:11:12: receivers\.ticker\.step\[0\]: aliases expand the document past 100000 nodes \(a YAML alias bomb\)/,
    );
  });

  it('the CLI exits 2 on an alias bomb, naming the file, line and YAML path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-config-'));
    dirs.push(dir);
    const path = join(dir, 'bomb.yaml');
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array.from({ length: 10 }, () => `*${prev}`).join(', ')}]`);
    }
    writeFileSync(path, `${levels.join('\n')}\nreceivers:\n  procfs:\n    collection_interval: *h\n`);
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, 'main.ts'), 'validate', '--config', path],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `${path}:11:26: receivers.procfs.collection_interval: aliases expand the document`,
    );
  });

  it('accepts ordinary aliases', () => {
    const text = `defaults: &d { collection_interval: 1s }\nreceivers:\n  ticker: *d\n${pipeline}`;
    expect(() => loadConfigText(text, 'config.yaml', registry, {})).toThrow(
      /defaults: unknown top-level key/,
    );
  });

  it('refuses a configuration file larger than 4 MiB before reading it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-config-'));
    dirs.push(dir);
    const path = join(dir, 'big.yaml');
    writeFileSync(path, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(() => loadConfigFile(path, registry, {})).toThrow(
      `${path}: the configuration file is ${String(MAX_CONFIG_BYTES + 3)} bytes, more than ${String(MAX_CONFIG_BYTES)}`,
    );
  });
});
