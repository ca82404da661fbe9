import { describe, expect, it } from 'vitest';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import type { CollectorConfig } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { createTestFactories, createTestStore } from '../../test/support/test-components.ts';
import { keepsFamily } from './config.ts';
import type { PrometheusReceiverConfig } from './config.ts';
import { prometheusReceiverFactory } from './factory.ts';

const registry = createRegistry([prometheusReceiverFactory, ...createTestFactories(createTestStore())]);

function load(receiver: string): { config: PrometheusReceiverConfig; warnings: CollectorConfig['warnings'] } {
  const text = `receivers:\n  prometheus:\n    targets: [http://127.0.0.1:9100/metrics]\n${receiver.replace(/^/gm, '    ')}\nexporters:\n  memory: {}\nservice:\n  pipelines:\n    metrics: { receivers: [prometheus], exporters: [memory] }\n`;
  const collector = loadConfigText(text, 'test.yaml', registry, {});
  return {
    config: collector.receivers.get('prometheus')?.config as PrometheusReceiverConfig,
    warnings: collector.warnings,
  };
}

const FAMILIES = ['node_cpu_seconds_total', 'node_load1', 'node_load5', 'go_goroutines', 'up'];

describe('prometheus receiver metric selection', () => {
  it('passes every family through by default', () => {
    const { config, warnings } = load('');
    expect(FAMILIES.filter((f) => keepsFamily(config, f))).toEqual(FAMILIES);
    expect(warnings).toEqual([]);
  });

  it('drops families by exact name; a family switched on passes keep_metric_names', () => {
    const { config } = load(
      [
        'keep_metric_names: ["node_.*"]',
        'metrics:',
        '  node_load5: { enabled: false }',
        '  go_goroutines: { enabled: true }',
        '  node_load: { enabled: false }',
      ].join('\n'),
    );
    expect(FAMILIES.filter((f) => keepsFamily(config, f))).toEqual([
      'node_cpu_seconds_total',
      'node_load1',
      'go_goroutines',
    ]);
  });

  it('reads the old list of regexes under metrics: as keep_metric_names, with a warning', () => {
    const old = load('metrics: ["node_load.*", go_goroutines]');
    const current = load('keep_metric_names: ["node_load.*", go_goroutines]');
    expect(FAMILIES.filter((f) => keepsFamily(old.config, f))).toEqual([
      'node_load1',
      'node_load5',
      'go_goroutines',
    ]);
    expect(old.config.keep_metric_names.map(String)).toEqual(current.config.keep_metric_names.map(String));
    expect(old.config.metrics).toEqual({});
    expect(old.warnings).toEqual([
      'receivers.prometheus.metrics: deprecated: "metrics: [node_load.*, go_goroutines]" is still read in this release and will be rejected in the next one; write "keep_metric_names: [node_load.*, go_goroutines]"',
    ]);
    expect(current.warnings).toEqual([]);
  });

  it('rejects the old list beside keep_metric_names, and a bad regex at its new path', () => {
    const problems = (text: string): readonly string[] => {
      try {
        load(text);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      throw new Error('accepted');
    };
    expect(problems('metrics: [a]\nkeep_metric_names: [b]')).toEqual([
      'receivers.prometheus.metrics: a list of regexes here is the old spelling of keep_metric_names, which is also given: keep only keep_metric_names',
    ]);
    expect(problems('metrics: ["node_[a-"]')[0]).toMatch(
      /^receivers\.prometheus\.keep_metric_names\[0\]: invalid regular expression "node_\[a-"/,
    );
  });
});
