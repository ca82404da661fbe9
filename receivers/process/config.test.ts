import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../service/commands/list-components.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { createTestFactories, createTestStore } from '../../test/support/test-components.ts';
import { cgroupGlobToRegExp, configSchema, DEFAULT_TOP } from './config.ts';
import type { ProcessConfig } from './config.ts';
import { processFactory } from './factory.ts';
import { PROCESS_METRIC_NAMES } from './metadata.ts';

const registry = createRegistry([processFactory, ...createTestFactories(createTestStore())]);
const dir = join(import.meta.dirname, 'testdata', 'config');

function load(file: string): ProcessConfig {
  const config = loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, {});
  const [receiver] = config.receivers.values();
  return receiver?.config as ProcessConfig;
}

function problemsOf(file: string): readonly string[] {
  try {
    load(file);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`${file} was accepted`);
}

describe('process config', () => {
  it('defaults to the top 20 by CPU and by memory, every metric but none off, no command line', () => {
    const config = configSchema.parse({});
    expect(config.top).toEqual(DEFAULT_TOP);
    expect(DEFAULT_TOP).toEqual({ cpu: 20, memory: 20 });
    expect(config.include).toEqual({
      names: [],
      command_lines: [],
      owners: [],
      cgroups: [],
      container_ids: [],
      pid_files: [],
    });
    expect(config).toMatchObject({
      root_path: '/',
      command_line: false,
      collection_interval: 10_000,
      initial_delay: 0,
    });
    expect([...config.metrics]).toEqual(PROCESS_METRIC_NAMES);
  });

  it('selects only the included processes when include is given without top', () => {
    expect(configSchema.parse({ include: { names: ['nginx'] } }).top).toEqual({ cpu: 0, memory: 0 });
    expect(configSchema.parse({ top: { cpu: 3 } }).top).toEqual({ cpu: 3, memory: 0 });
  });

  it('parses a full config', () => {
    const config = load('good-full.yaml');
    expect(config.collection_interval).toBe(30_000);
    expect(config.root_path).toBe('/host');
    expect(config.top).toEqual({ cpu: 5, memory: 0 });
    expect(config.include.names.map((r) => r.source)).toEqual(['^(?:nginx|php-fpm.*)$']);
    expect(config.include.names[0]?.test('php-fpm8.2')).toBe(true);
    expect(config.include.names[0]?.test('xnginx')).toBe(false);
    expect(config.include.owners.map((r) => r.source)).toEqual(['^(?:www-data|postgres)$']);
    expect(config.include.cgroups.map((c) => c.glob)).toEqual(['/kubepods.slice/**']);
    expect(config.include.container_ids).toEqual(['0123456789ab']);
    expect(config.include.pid_files).toEqual(['/run/nginx.pid']);
    expect(config.command_line).toBe(true);
    expect(config.metrics.has('inframeter.process.io.chars')).toBe(false);
    expect(config.metrics.has('process.cpu.utilization')).toBe(true);
    expect(config.metrics.size).toBe(PROCESS_METRIC_NAMES.length - 1);
  });

  it.each([
    ['bad-regex.yaml', [/^receivers\.process\.include\.names\[0\]: invalid regular expression "\(nginx": /]],
    [
      'bad-owner-regex.yaml',
      [/^receivers\.process\.include\.owners\[1\]: invalid regular expression "\[root": /],
    ],
    [
      'bad-unknown-key.yaml',
      [
        'receivers.process.top.cpus: unknown key (a typo? see `inframeter components`)',
        'receivers.process.include_names: unknown key (a typo? see `inframeter components`)',
      ],
    ],
    [
      'bad-top-negative.yaml',
      [
        'receivers.process.top.cpu: Too small: expected number to be >=0',
        'receivers.process.top.memory: Invalid input: expected int, received number',
      ],
    ],
    [
      'bad-container-id.yaml',
      [
        'receivers.process/app.include.container_ids[1]: must be a container id: 12 to 64 lowercase hex digits (a prefix of the full id)',
      ],
    ],
    [
      'bad-cgroup-glob.yaml',
      [
        'receivers.process.include.cgroups[0]: must be a cgroup path starting with "/" (as in /proc/<pid>/cgroup), e.g. "/kubepods/**/pod<uid>/**"',
        'receivers.process.include.pid_files[0]: must be an absolute path (read under root_path)',
      ],
    ],
    [
      'bad-unknown-metric.yaml',
      [
        'receivers.process.metrics.process.memory.usage.enabled: Invalid input: expected boolean, received string',
        `receivers.process.metrics.process.cpu.utilisation: unknown metric "process.cpu.utilisation"; known metrics: ${PROCESS_METRIC_NAMES.join(', ')}`,
      ],
    ],
  ])('%s fails with its path', (file, expected) => {
    const problems = problemsOf(file);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((want, i) => {
      if (typeof want === 'string') expect(problems[i]).toBe(want);
      else expect(problems[i]).toMatch(want);
    });
  });

  it('compiles cgroup globs: * and ? within a segment, ** across', () => {
    const pod = cgroupGlobToRegExp('/kubepods/**/pod1234/*');
    expect(pod.test('/kubepods/burstable/pod1234/abcdef')).toBe(true);
    expect(pod.test('/kubepods/pod1234/abcdef')).toBe(false);
    expect(pod.test('/kubepods/burstable/pod1234/abc/def')).toBe(false);
    expect(cgroupGlobToRegExp('/system.slice/docker-*.scope').test('/system.slice/docker-0a1b.scope')).toBe(
      true,
    );
    expect(cgroupGlobToRegExp('/system.slice/docker-*.scope').test('/system.slice/dockerx0a1b.scope')).toBe(
      false,
    );
    expect(cgroupGlobToRegExp('/a?c').test('/abc')).toBe(true);
    expect(cgroupGlobToRegExp('/a?c').test('/a/c')).toBe(false);
  });

  it('lists its keys and defaults for `inframeter components`', () => {
    const lines = describeConfig(processFactory);
    expect(lines).toContain('    root_path: string (default "/")');
    expect(lines).toContain('    command_line: boolean (default false)');
    expect(lines.some((line) => line.startsWith('    include.names:'))).toBe(true);
    expect(lines.some((line) => line.startsWith('    top.cpu:'))).toBe(true);
  });
});
