import { Writable } from 'node:stream';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestFactories, createTestStore, exportedPoints } from '../test/support/test-components.ts';
import type { TestStore } from '../test/support/test-components.ts';
import { waitUntil } from '../test/support/wait.ts';
import { createRegistry, loadConfigText } from './config.ts';
import { createLogger, createSilentLogger } from '../kit/logger.ts';
import type { Logger } from '../kit/logger.ts';
import { Service } from './service.ts';

const resource = resourceFromAttributes({ 'host.name': 'svc-test', 'service.name': 'inframeter' });
const running: Service[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
});

function createService(yaml: string, store: TestStore, logger: Logger = createSilentLogger()): Service {
  const config = loadConfigText(yaml, 'test', createRegistry(createTestFactories(store)), {});
  const service = new Service(config, logger, resource);
  running.push(service);
  return service;
}

const TWO_PIPELINES = `
receivers:
  ticker/a: { step: 1, collection_interval: 20ms }
  ticker/b: { step: 10, collection_interval: 20ms }
processors:
  tag/x: { value: x }
exporters:
  memory/one: {}
  memory/two: {}
service:
  pipelines:
    metrics/a:
      receivers: [ticker/a, ticker/b]
      processors: [tag/x]
      exporters: [memory/one, memory/two]
    metrics/b:
      receivers: [ticker/b]
      exporters: [memory/two]
`;

describe('Service', () => {
  it('fans in and out across pipelines, with a processor instance per pipeline', async () => {
    const store = createTestStore();
    const service = createService(TWO_PIPELINES, store);
    await service.start();
    expect(service.state).toBe('running');
    await waitUntil(() => (store.exported.get('memory/one')?.length ?? 0) >= 4, 'four exports to memory/one');
    await service.shutdown();

    const one = store.exported.get('memory/one') ?? [];
    const two = store.exported.get('memory/two') ?? [];
    const pointsOf = (batches: ResourceMetrics[]): DataPoint<unknown>[] =>
      batches.flatMap((b) =>
        b.scopeMetrics.flatMap((s) => s.metrics.flatMap((m): DataPoint<unknown>[] => m.dataPoints)),
      );
    // memory/one sees both receivers through metrics/a, every point tagged.
    expect(new Set(pointsOf(one).map((p) => p.attributes.tag))).toEqual(new Set(['x']));
    expect(new Set(one.map((b) => b.scopeMetrics[0]?.scope.name))).toEqual(
      new Set(['inframeter/receiver/ticker']),
    );
    // memory/two gets ticker/b's batches twice: tagged through metrics/a, untagged through metrics/b.
    const tags = pointsOf(two).map((p) => p.attributes.tag ?? 'none');
    expect(tags).toContain('x');
    expect(tags).toContain('none');
    // Values are the receivers' own counters: multiples of their step.
    const values = pointsOf(two).map((p) => p.value as number);
    expect(values.every((v) => v > 0)).toBe(true);
    expect(one[0]?.resource.attributes['host.name']).toBe('svc-test');
  });

  it('starts exporters first and receivers last, and stops in the reverse order with a flush', async () => {
    const store = createTestStore();
    const service = createService(TWO_PIPELINES, store);
    await service.start();
    await service.shutdown();
    const starts = store.events.filter((e) => e.startsWith('start'));
    expect(starts).toEqual([
      'start exporter memory/one',
      'start exporter memory/two',
      'start receiver ticker/a',
      'start receiver ticker/b',
    ]);
    const stops = store.events.filter((e) => !e.startsWith('start'));
    expect(stops.slice(0, 2).sort()).toEqual(['shutdown receiver ticker/a', 'shutdown receiver ticker/b']);
    expect(stops.slice(2, 3)).toEqual(['shutdown processor tag/x']);
    expect(stops.slice(3).sort()).toEqual([
      'flush exporter memory/one',
      'flush exporter memory/two',
      'shutdown exporter memory/one',
      'shutdown exporter memory/two',
    ]);
    for (const id of ['memory/one', 'memory/two']) {
      expect(store.events.indexOf(`flush exporter ${id}`)).toBeLessThan(
        store.events.indexOf(`shutdown exporter ${id}`),
      );
    }
  });

  it('is safe to shut down twice and before start', async () => {
    const store = createTestStore();
    const service = createService(TWO_PIPELINES, store);
    await service.shutdown();
    await service.shutdown();
    expect(service.state).toBe('stopped');
    expect(store.events).toEqual([]);
    await expect(service.start()).rejects.toThrow(/cannot start a service that is stopped/);
  });

  it('counts points and serves its own metrics, health and readiness', async () => {
    const store = createTestStore();
    const yaml = `
receivers:
  ticker: { collection_interval: 20ms, fail_every: 2 }
exporters:
  memory: {}
  memory/broken: { fail: true }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    metrics: { receivers: [ticker], exporters: [memory, memory/broken] }
`;
    const service = createService(yaml, store);
    await service.start();
    const address = service.telemetryAddress;
    if (address === undefined) throw new Error('telemetry endpoint not listening');
    const base = `http://127.0.0.1:${address.port}`;
    await waitUntil(() => exportedPoints(store, 'memory') >= 3, 'three points exported');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    // The ticker keeps scraping while we read: a batch can be counted as
    // received and not yet as exported in one reading, so read until a
    // reading falls between two batches (each lasts far less than 20 ms).
    let body = '';
    let received = Number.NaN;
    let exported = Number.NaN;
    let failed = Number.NaN;
    for (let attempt = 0; attempt < 20; attempt++) {
      body = await (await fetch(`${base}/metrics`)).text();
      const text = body;
      const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      received = value(
        /inframeter_component_points_received(?:_total)?\{component_id="memory",component_kind="exporter"[^}]*\} (\d+)/,
      );
      exported = value(
        /inframeter_component_points_exported(?:_total)?\{component_id="memory",component_kind="exporter"[^}]*\} (\d+)/,
      );
      failed = value(
        /inframeter_component_points_failed(?:_total)?\{component_id="memory\/broken",component_kind="exporter"[^}]*\} (\d+)/,
      );
      if (exported === received) break;
    }
    expect(received).toBeGreaterThanOrEqual(3);
    expect(exported).toBe(received);
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(body).toMatch(/inframeter_scrape_errors(?:_total)?\{component_id="ticker"[^}]*\} \d+/);
    expect(body).toMatch(
      /inframeter_scrape_duration_seconds_count\{component_id="ticker"[^}]*\} \d+|inframeter_scrape_duration_count\{component_id="ticker"[^}]*\} \d+/,
    );
    await service.shutdown();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('logs a repeated scrape error once, not once per scrape', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    });
    const store = createTestStore();
    const yaml = `
receivers:
  ticker: { collection_interval: 10ms, fail_every: 1 }
exporters:
  memory: {}
service:
  pipelines:
    metrics: { receivers: [ticker], exporters: [memory] }
`;
    const service = createService(yaml, store, createLogger('info', sink));
    await service.start();
    await waitUntil(() => (store.exported.get('memory')?.length ?? 0) >= 5, 'five exports to memory');
    await service.shutdown();
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string; key?: string })
      .filter((l) => l.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ msg: 'broken source', key: '/dev/broken' })]);
  });
});
