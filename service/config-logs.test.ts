import { describe, expect, it } from 'vitest';
import { factories } from './components.ts';
import { createRegistry, loadConfigText } from './config.ts';
import { ConfigError } from '../kit/errors.ts';

/** Logs pipelines with the real components: which ones carry logs, and the errors when not. */
const registry = createRegistry(factories);

const RECEIVER = `
  kubevirt_logs:
    node_name: node-1
    directory: /var/lib/inframeter/vm-logs`;

function problemsOf(text: string): readonly string[] {
  try {
    loadConfigText(text, 'test.yaml', registry, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('logs pipelines', () => {
  it('accepts kubevirt_logs into otlp in a logs pipeline beside a metrics pipeline sharing the exporter', () => {
    const config = loadConfigText(
      `receivers:${RECEIVER}
  procfs: {}
exporters:
  otlp: { endpoint: "127.0.0.1:4317", tls: { insecure: true } }
service:
  pipelines:
    metrics: { receivers: [procfs], exporters: [otlp] }
    logs/vms: { receivers: [kubevirt_logs], exporters: [otlp] }
`,
      'test.yaml',
      registry,
      {},
    );
    expect(config.pipelines.map((p) => [p.id, p.signal])).toEqual([
      ['metrics', 'metrics'],
      ['logs/vms', 'logs'],
    ]);
  });

  it('accepts kubevirt_logs in no pipeline (files only)', () => {
    const config = loadConfigText(
      `receivers:${RECEIVER}
  procfs: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [procfs], exporters: [prometheus] }
`,
      'test.yaml',
      registry,
      {},
    );
    expect([...config.receivers.keys()]).toEqual(['kubevirt_logs', 'procfs']);
  });

  it('rejects, all at once and with their paths, components that do not carry the pipeline’s signal', () => {
    const problems = problemsOf(`receivers:${RECEIVER}
  procfs: {}
processors:
  batch: {}
exporters:
  otlp: { endpoint: "127.0.0.1:4317", tls: { insecure: true } }
  csv: { path: /tmp/m.csv }
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [procfs, kubevirt_logs], exporters: [prometheus] }
    logs: { receivers: [kubevirt_logs, procfs], processors: [batch], exporters: [otlp, csv] }
    traces: { receivers: [procfs], exporters: [otlp] }
`);
    expect([...problems].sort()).toEqual(
      [
        'service.pipelines.metrics.receivers[1]: receiver "kubevirt_logs" does not support metrics (it supports logs)',
        'service.pipelines.logs.receivers[1]: receiver "procfs" does not support logs (it supports metrics)',
        'service.pipelines.logs.processors[0]: processor "batch" does not support logs (it supports metrics)',
        'service.pipelines.logs.exporters[1]: exporter "csv" does not support logs (it supports metrics)',
        'service.pipelines.traces: invalid pipeline id: expected "metrics", "metrics/name", "logs" or "logs/name"',
      ].sort(),
    );
  });
});
