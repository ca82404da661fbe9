import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import type { Factory, MetricSink } from '../kit/component.ts';
import { factories } from '../service/components.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * The lifecycle contract, for every registered factory: shutdown without start; start, work,
 * shutdown; shutdown twice. Components that need a setting with no default get the smallest
 * config that lets them start on this machine.
 */
const dir = mkdtempSync(join(tmpdir(), 'inframeter-conformance-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const MINIMAL_CONFIG: Record<string, (id: string) => unknown> = {
  'exporter/csv': (id) => ({ path: join(dir, `${id.replace('/', '_')}.csv`) }),
  'exporter/prometheus': () => ({ endpoint: '127.0.0.1:0' }),
  'receiver/otlp': () => ({
    protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } },
  }),
  'exporter/otlp': () => ({ endpoint: 'http://127.0.0.1:1', protocol: 'http/protobuf' }),
  'exporter/influxdb': () => ({ endpoint: 'http://127.0.0.1:1', database: 'metrics' }),
  'exporter/prometheusremotewrite': () => ({ endpoint: 'http://127.0.0.1:1/api/v1/write' }),
  'receiver/procfs': () => ({ collection_interval: '50ms' }),
  'receiver/libvirt': () => ({ uris: ['test:///default'], collection_interval: '50ms' }),
  'receiver/kwollect': () => ({ metrics_dir: dir }),
  // An API server that refuses connections: the watches fail, are counted and retried.
  'receiver/kubevirt': () => {
    const kubeconfig = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    return {
      node_name: 'node-1',
      auth_type: 'kubeconfig',
      kubeconfig,
      collection_interval: '50ms',
      libvirt: { timeout: '20ms' },
    };
  },
  'receiver/kubevirt_logs': () => ({
    auth_type: 'kubeconfig',
    kubeconfig: kubeconfigFile(),
    node_name: 'node-1',
    directory: join(dir, 'kubevirt-logs'),
    interval: '1h',
  }),
  'receiver/prometheus': () => ({ targets: ['http://127.0.0.1:1/metrics'], collection_interval: '50ms' }),
  'receiver/ipmi': () => ({ targets: [{ name: 'local' }], collection_interval: '50ms', bmc_timeout: '1s' }),
  'receiver/wattmetre': (id) => ({
    source: { file: join(dir, `${id.replace('/', '_')}.log`) },
    wattmetre_id: 'w',
  }),
};

/** A kubeconfig naming an API server that refuses connections (the receiver reports, never fails). */
function kubeconfigFile(): string {
  const path = join(dir, 'kubeconfig-logs.yaml');
  writeFileSync(
    path,
    'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n',
  );
  return path;
}

function configFor(factory: Factory): unknown {
  const key = `${factory.kind}/${factory.type}`;
  const raw = MINIMAL_CONFIG[key]?.(key) ?? {};
  return factory.configSchema.parse(raw);
}

function recordingSink(batches: ResourceMetrics[]): MetricSink {
  return {
    export(batch, cb) {
      batches.push(batch);
      cb({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

function emptyBatch(): ResourceMetrics {
  return { resource: createTestSettings('x', 'exporter').resource, scopeMetrics: [] };
}

describe.each(factories.map((f) => [`${f.kind} ${f.type}`, f] as const))('%s', (_name, factory) => {
  it('has a lower_snake_case type, a description and a parsable config', () => {
    expect(factory.type).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(factory.description.length).toBeGreaterThan(10);
    expect(() => configFor(factory)).not.toThrow();
  });

  it('shuts down without start, and twice', async () => {
    const settings = createTestSettings(factory.type, factory.kind);
    const config = configFor(factory);
    if (factory.kind === 'receiver') {
      const receiver = factory.create(settings, config);
      await receiver.shutdown();
      await receiver.shutdown();
    } else if (factory.kind === 'processor') {
      const processor = factory.create(settings, config, recordingSink([]));
      await processor.shutdown();
      await processor.shutdown();
    } else {
      const exporter = factory.create(settings, config);
      await exporter.shutdown();
      await exporter.shutdown();
    }
  });

  it('starts, works, and shuts down twice', async () => {
    const settings = createTestSettings(factory.type, factory.kind);
    const config = configFor(factory);
    if (factory.kind === 'receiver') {
      const receiver = factory.create(settings, config);
      const batches: ResourceMetrics[] = [];
      await receiver.start(recordingSink(batches));
      await receiver.shutdown();
      await receiver.shutdown();
    } else {
      const component =
        factory.kind === 'processor'
          ? factory.create(settings, config, recordingSink([]))
          : factory.create(settings, config);
      await component.start?.();
      const result = await new Promise<number>((resolve) => {
        component.export(emptyBatch(), (r) => {
          resolve(r.code);
        });
      });
      expect([ExportResultCode.SUCCESS, ExportResultCode.FAILED]).toContain(result);
      await component.forceFlush();
      await component.shutdown();
      await component.shutdown();
    }
  });
});

it('registers at least the foundation components', () => {
  const types = factories.map((f) => `${f.kind}/${f.type}`);
  expect(types).toEqual(expect.arrayContaining(['receiver/procfs', 'exporter/prometheus', 'exporter/csv']));
});
