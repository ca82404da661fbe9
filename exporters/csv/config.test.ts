import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../service/commands/list-components.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { createTestFactories, createTestStore } from '../../test/support/test-components.ts';
import { configSchema, DEFAULT_MAX_BUFFER_SIZE } from './config.ts';
import type { CsvExporterConfig } from './config.ts';
import { csvFactory } from './factory.ts';

const registry = createRegistry([csvFactory, ...createTestFactories(createTestStore())]);
const dir = join(import.meta.dirname, 'testdata', 'config');

function load(file: string): CsvExporterConfig {
  const config = loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, {});
  const [exporter] = config.exporters.values();
  return exporter?.config as CsvExporterConfig;
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

describe('csv config', () => {
  it('needs only a path: no rotation, a flush every second, the resource column, a 16 MiB buffer', () => {
    expect(configSchema.parse({ path: 'm.csv' })).toEqual({
      path: 'm.csv',
      rotation: {},
      flush_interval: 1000,
      include_resource: true,
      max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
    });
    expect(DEFAULT_MAX_BUFFER_SIZE).toBe(16 * 1024 * 1024);
  });

  it('parses a full config', () => {
    expect(load('good-full.yaml')).toEqual({
      path: '/var/lib/inframeter/run-42.csv',
      rotation: { max_size: 100 * 1024 * 1024, interval: 3_600_000, max_files: 48 },
      flush_interval: 2000,
      include_resource: false,
      max_buffer_size: 64 * 1024 * 1024,
    });
  });

  it.each([
    ['bad-missing-path.yaml', ['exporters.csv.path: Invalid input: expected string, received undefined']],
    [
      'bad-unknown-key.yaml',
      [
        'exporters.csv.rotation.max_megabytes: unknown key (a typo? see `inframeter components`)',
        'exporters.csv.compression: unknown key (a typo? see `inframeter components`)',
      ],
    ],
    [
      'bad-size.yaml',
      [
        'exporters.csv/lab.rotation.max_size: expected a size greater than 0 such as "100MiB", "1GB" or a number of bytes, got "100 MiBs"',
        'exporters.csv/lab.rotation.max_files: Too small: expected number to be >0',
        'exporters.csv/lab.max_buffer_size: expected a size greater than 0 such as "100MiB", "1GB" or a number of bytes, got "lots"',
      ],
    ],
    [
      'bad-max-files-alone.yaml',
      ['exporters.csv.rotation.max_files: has no effect without rotation.max_size or rotation.interval'],
    ],
    [
      'bad-durations.yaml',
      [
        'exporters.csv.path: must not be empty',
        'exporters.csv.rotation.interval: must be longer than 0',
        'exporters.csv.flush_interval: expected a duration such as "10s", "500ms" or "1m", got "soon"',
        'exporters.csv.include_resource: Invalid input: expected boolean, received string',
      ],
    ],
  ])('%s fails with its path', (file, expected) => {
    expect(problemsOf(file)).toEqual(expected);
  });

  it('lists its keys and defaults for `inframeter components`', () => {
    const lines = describeConfig(csvFactory);
    expect(lines).toContain('    path: string (required)');
    expect(lines).toContain('    flush_interval: string | number (default "1s")');
    expect(lines).toContain('    max_buffer_size: string | number (default "16MiB")');
    expect(lines).toContain('    include_resource: boolean (default true)');
    expect(lines.some((line) => line.startsWith('    rotation.max_size:'))).toBe(true);
  });
});
