import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestFactories, createTestStore } from '../test/support/test-components.ts';
import { createRegistry, loadConfigFile, loadConfigText } from './config.ts';
import { parseDuration } from '../kit/config-types.ts';
import { ConfigError } from '../kit/errors.ts';

const registry = createRegistry(createTestFactories(createTestStore()));
const dir = join(import.meta.dirname, 'testdata', 'config');

function problemsOf(file: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    loadConfigFile(join(dir, file), registry, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`${file} was accepted`);
}

describe('configuration', () => {
  it('accepts two pipelines with fan-in, fan-out, type/name ids and env defaults', () => {
    const config = loadConfigFile(join(dir, 'good-two-pipelines.yaml'), registry, {});
    expect([...config.receivers.keys()]).toEqual(['ticker/a', 'ticker/b']);
    expect(config.receivers.get('ticker/b')?.config).toEqual({
      step: 10,
      fail_every: 0,
      collection_interval: 50,
      initial_delay: 0,
    });
    expect(config.exporters.get('memory/two')?.config).toEqual({ fail: false, delay: 0 });
    expect(config.pipelines).toEqual([
      {
        id: 'metrics/a',
        signal: 'metrics',
        receivers: ['ticker/a', 'ticker/b'],
        processors: ['tag/x'],
        exporters: ['memory/one', 'memory/two'],
      },
      {
        id: 'metrics/b',
        signal: 'metrics',
        receivers: ['ticker/b'],
        processors: [],
        exporters: ['memory/two'],
      },
    ]);
  });

  it('substitutes ${env:VAR} in values', () => {
    const config = loadConfigFile(join(dir, 'good-two-pipelines.yaml'), registry, {
      INFRAMETER_TEST_DELAY: '2s',
    });
    expect(config.exporters.get('memory/two')?.config).toEqual({ fail: false, delay: 2000 });
  });

  it('keeps $${ as a literal and never parses a variable as YAML', () => {
    const text =
      'receivers: { ticker: {} }\nexporters: { memory: { delay: "${env:D}" } }\nservice: { pipelines: { metrics: { receivers: [ticker], exporters: [memory] } } }\n';
    expect(() => loadConfigText(text, 't', registry, { D: '{a: 1}' })).toThrow(
      /exporters\.memory\.delay: expected a duration/,
    );
  });

  it.each([
    ['bad-unknown-type.yaml', ['receivers.tickr: unknown receiver type "tickr"; known types: ticker']],
    [
      'bad-wrong-value.yaml',
      [
        'receivers.ticker/fast.step: Too small: expected number to be >0',
        'receivers.ticker/fast.collection_interval: expected a duration such as "10s", "500ms" or "1m", got "ten seconds"',
        'exporters.memory.colour: unknown key (a typo? see `inframeter components`)',
      ],
    ],
    [
      'bad-undefined-reference.yaml',
      [
        'service.pipelines.metrics.receivers[1]: receiver "ticker/missing" is not defined under receivers',
        'service.pipelines.metrics.processors[0]: processor "tag" is not defined under processors',
      ],
    ],
    [
      'bad-unused-and-duplicated.yaml',
      [
        'service.pipelines.metrics.receivers[1]: "ticker" is listed twice',
        'receivers.ticker/spare: defined but not used in any pipeline (add it to service.pipelines or remove it)',
      ],
    ],
    [
      'bad-env-unset.yaml',
      ['exporters.memory.delay: environment variable INFRAMETER_TEST_UNSET_DELAY is not set'],
    ],
    [
      'bad-no-pipelines.yaml',
      [
        'service.pipelines: at least one pipeline is required (e.g. service.pipelines.metrics)',
        'service.telemetry.logs.level: expected one of trace, debug, info, warn, error, fatal, silent',
        'receivers.ticker: defined but not used in any pipeline (add it to service.pipelines or remove it)',
        'exporters.memory: defined but not used in any pipeline (add it to service.pipelines or remove it)',
      ],
    ],
  ])('%s reports every problem with its path', (file, expected) => {
    expect([...problemsOf(file)].sort()).toEqual([...expected].sort());
  });

  it('reports a duplicated YAML key with its line', () => {
    const problems = problemsOf('bad-duplicate-key.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/bad-duplicate-key\.yaml:3:3: duplicated key/);
  });

  it('names a missing file', () => {
    expect(() => loadConfigFile(join(dir, 'nope.yaml'), registry, {})).toThrow(
      /nope\.yaml: cannot read the configuration file \(ENOENT\)/,
    );
  });

  it('rejects unknown top-level and service keys', () => {
    const text = readFileSync(join(dir, 'good-two-pipelines.yaml'), 'utf8') + 'extra: 1\n';
    expect(() => loadConfigText(text, 't', registry, {})).toThrow(/extra: unknown top-level key/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['250ms', 250],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['0.5s', 500],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '10', 's', '10 s', '1d', '-1s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
