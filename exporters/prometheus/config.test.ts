import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { createTestFactories } from '../../test/support/test-components.ts';
import type { PrometheusExporterConfig } from './config.ts';
import { configSchema } from './config.ts';
import { prometheusExporterFactory } from './index.ts';

const registry = createRegistry([
  ...createTestFactories({ exported: new Map(), events: [] }),
  prometheusExporterFactory,
]);
const dir = join(import.meta.dirname, 'testdata/config');

function load(file: string): PrometheusExporterConfig {
  const config = loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, {});
  return config.exporters.get('prometheus')?.config as PrometheusExporterConfig;
}

function problems(file: string): readonly string[] {
  try {
    load(file);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('prometheus exporter config', () => {
  it.each([
    [
      'bad-endpoint.yaml',
      'exporters.prometheus.endpoint: expected host:port such as "127.0.0.1:9464", got "9464"',
    ],
    [
      'bad-namespace.yaml',
      'exporters.prometheus.namespace: must be a Prometheus name: letters, digits and _, not starting with a digit',
    ],
    [
      'bad-const-label.yaml',
      'exporters.prometheus.const_labels.rack.id: must be a label name: letters, digits and _, not starting with a digit or __',
    ],
    ['bad-metric-expiration.yaml', 'exporters.prometheus.metric_expiration: must be longer than 0'],
    [
      'bad-unknown-key.yaml',
      'exporters.prometheus.add_metric_suffix: unknown key (a typo? see `inframeter components`)',
    ],
    [
      'bad-resource-conversion.yaml',
      'exporters.prometheus.resource_to_telemetry_conversion.enable: unknown key (a typo? see `inframeter components`)',
    ],
    [
      'bad-open-metrics.yaml',
      'exporters.prometheus.enable_open_metrics: Invalid input: expected boolean, received string',
    ],
  ])('%s fails with its path', (file, message) => {
    expect(problems(file)).toEqual([message]);
  });

  it('fills the defaults', () => {
    expect(configSchema.parse({})).toEqual({
      endpoint: { host: '0.0.0.0', port: 9464 },
      const_labels: {},
      metric_expiration: 300_000,
      resource_to_telemetry_conversion: { enabled: false },
      add_metric_suffixes: true,
      enable_open_metrics: true,
      send_timestamps: false,
      without_scope_info: false,
    });
  });

  it('reads every setting', () => {
    expect(load('good-full.yaml')).toEqual({
      endpoint: { host: '127.0.0.1', port: 0 },
      namespace: 'lab',
      const_labels: { site: 'grenoble' },
      metric_expiration: 90_000,
      resource_to_telemetry_conversion: { enabled: true },
      add_metric_suffixes: false,
      enable_open_metrics: false,
      send_timestamps: true,
      without_scope_info: true,
    });
  });
});
