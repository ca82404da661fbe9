import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { MetricSink } from '../../kit/component.ts';
import { createLogger } from '../../kit/logger.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import { clockPasses } from '../../test/support/peers.ts';
import { createTestSettings, scrapeOnce } from '../../test/support/settings.ts';
import type { Config } from './config.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';
import { createCgroupsReceiver } from './factory.ts';
import { createCgroupsScraper } from './scraper.ts';
import { formatBatch, instrumentOf } from './testdata/golden-format.ts';

const testdata = join(import.meta.dirname, 'testdata');
const LAYOUTS = ['hybrid-recorded', 'v2-systemd', 'v1-cgroupfs'] as const;

function configFor(layout: string, extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({ root_path: join(testdata, 'fixtures', layout), ...extra });
}

/** Two scrapes 10 s apart on a fixed clock: the second one has CPU usage (0, the files do not change). */
async function scrapeTwice(
  layout: string,
): Promise<{ batch: ResourceMetrics; errors: ReadonlyMap<string, Error> }> {
  let now = 1_000_000;
  const scraper = createCgroupsScraper(configFor(layout), { now: () => now });
  const { runner } = await scrapeOnce(scraper, 'cgroups');
  now += 10_000;
  const { batch, report } = await runner.run(10_000);
  await runner.shutdown();
  return { batch, errors: report.errors };
}

function checkGolden(name: string, text: string): void {
  const path = join(testdata, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

describe('cgroups receiver on fixture trees', () => {
  const seen = new Map<string, Set<string>>();

  it('keeps the start time of every series from scrape to scrape', async () => {
    const scraper = createCgroupsScraper(configFor('v2-systemd'));
    const { runner, batch: first } = await scrapeOnce(scraper, 'cgroups');
    await clockPasses(20);
    const { batch: second } = await runner.run(10_000);
    await runner.shutdown();
    const key = (name: string, attributes: object): string => `${name} ${JSON.stringify(attributes)}`;
    const starts = new Map<string, number>();
    for (const metric of first.scopeMetrics.flatMap((s) => s.metrics))
      for (const p of metric.dataPoints)
        starts.set(key(metric.descriptor.name, p.attributes), hrTimeToMilliseconds(p.startTime));
    let compared = 0;
    for (const metric of second.scopeMetrics.flatMap((s) => s.metrics)) {
      for (const p of metric.dataPoints) {
        const start = starts.get(key(metric.descriptor.name, p.attributes));
        // container.cpu.usage first appears in the second scrape.
        if (metric.descriptor.name === 'container.cpu.usage') continue;
        expect(start, key(metric.descriptor.name, p.attributes)).toBe(hrTimeToMilliseconds(p.startTime));
        expect(hrTimeToMilliseconds(p.endTime)).toBeGreaterThanOrEqual((start ?? 0) + 15);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(compared).toBe(countPoints(first));
  });

  it.each(LAYOUTS)('%s matches its golden output, without errors', async (layout) => {
    const { batch, errors } = await scrapeTwice(layout);
    expect([...errors.keys()]).toEqual([]);
    checkGolden(`${layout}.txt`, formatBatch(batch));
    expect(batch.resource.attributes['host.name']).toBe('test-host');
    for (const metric of batch.scopeMetrics.flatMap((s) => s.metrics)) {
      const meta = metadata.metrics.find((m) => m.name === metric.descriptor.name);
      expect(meta, metric.descriptor.name).toBeDefined();
      expect(instrumentOf(metric), metric.descriptor.name).toBe(meta?.instrument);
      expect(metric.descriptor.unit).toBe(meta?.unit);
      const keys = seen.get(metric.descriptor.name) ?? new Set<string>();
      for (const point of metric.dataPoints) for (const key of Object.keys(point.attributes)) keys.add(key);
      if (metric.dataPoints.length > 0) seen.set(metric.descriptor.name, keys);
    }
  });

  it('emits every metric of metadata.ts in some fixture, with attributes metadata.ts lists', () => {
    expect([...seen.keys()].sort()).toEqual(metadata.metrics.map((m) => m.name).sort());
    for (const m of metadata.metrics) {
      for (const key of seen.get(m.name) ?? []) expect(m.attributes, `${m.name} ${key}`).toContain(key);
      expect(Object.keys(metadata.attributes)).toEqual(expect.arrayContaining([...m.attributes]));
    }
  });

  it('reads the recorded hybrid tree: Docker and Kubernetes cgroups with v1 accounting and unified PSI', async () => {
    const { batch } = await scrapeTwice('hybrid-recorded');
    const text = formatBatch(batch);
    const docker = 'cgroup.path="/docker/3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c"';
    const line = (metric: string, extra = ''): string | undefined =>
      text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(docker) && l.includes(extra));
    expect(line('container.cpu.time', 'cpu.mode="user"')).toMatch(/ 0\.79$/);
    expect(line('container.memory.usage')).toMatch(/ \d+$/);
    expect(line('inframeter.cgroups.memory.limit')).toMatch(/ 268435456$/);
    expect(line('inframeter.cgroups.cpu.throttled_periods')).toMatch(/ 16$/);
    expect(line('container.disk.io', 'disk.io.direction="write"')).toContain('system.device="vda"');
    expect(line('container.network.io', 'network.io.direction="receive"')).toMatch(
      /network.interface.name="lo".* 108000$/,
    );
    expect(
      line(
        'inframeter.cgroups.pressure.stall.time',
        'pressure.resource="cpu",inframeter.cgroups.pressure.scope="some"',
      ),
    ).toMatch(/ 0\.793935$/);
  });
});

describe('cgroups receiver lifecycle', () => {
  it('shuts down without start, and twice', async () => {
    const receiver = createCgroupsReceiver(
      createTestSettings('cgroups', 'receiver'),
      configFor('v2-systemd'),
    );
    await receiver.shutdown();
    await receiver.shutdown();
  });

  it('starts, pushes a batch into the pipeline, and shuts down', async () => {
    const settings = createTestSettings('cgroups', 'receiver');
    const receiver = createCgroupsReceiver(
      settings,
      configFor('v2-systemd', { collection_interval: '50ms' }),
    );
    const batches: ResourceMetrics[] = [];
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    await receiver.start(sink);
    const deadline = Date.now() + 30_000;
    while (batches.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await receiver.shutdown();
    await receiver.shutdown();
    expect(batches.length).toBeGreaterThan(0);
    const first = batches[0];
    if (first === undefined) throw new Error('no batch');
    expect(countPoints(first)).toBeGreaterThan(500);
    expect(settings.telemetry.counts.exported).toBe(settings.telemetry.counts.received);
  });

  it('logs the cap once while more cgroups are selected than max_cgroups', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger('debug', {
      write: (line: string) => {
        lines.push(JSON.parse(line) as { level: number; msg: string });
      },
    });
    const settings = { ...createTestSettings('cgroups', 'receiver'), logger };
    const receiver = createCgroupsReceiver(
      settings,
      configFor('v2-systemd', { collection_interval: '50ms', max_cgroups: 5 }),
    );
    const batches: ResourceMetrics[] = [];
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    await receiver.start(sink);
    const deadline = Date.now() + 30_000;
    while (batches.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await receiver.shutdown();
    expect(batches.length).toBeGreaterThanOrEqual(3);
    const message =
      'more cgroups are selected than max_cgroups (5): the rest are not reported, see inframeter.cgroups.selected{inframeter.cgroups.selection="over_limit"}';
    // pino levels: 40 warn, 20 debug (the repetitions).
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([message]);
    expect(lines.filter((l) => l.level === 20 && l.msg === 'error repeated').length).toBeGreaterThanOrEqual(
      2,
    );
  });
});
