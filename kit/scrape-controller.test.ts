import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createTestSettings, scrapeOnce } from '../test/support/settings.ts';
import { createTickScraper } from '../test/support/test-components.ts';
import type { MetricSink, Scraper } from './component.ts';
import type { MetricMetadata } from './metadata.ts';
import { createScraperReceiver, ScrapeRunner } from './scrape-controller.ts';
import { SnapshotSet } from './snapshot-set.ts';

function memorySink(batches: ResourceMetrics[]): MetricSink {
  return {
    export(batch, cb) {
      batches.push(batch);
      cb({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** A producer with nothing to publish. */
const NOTHING = new SnapshotSet(
  'test/scope',
  [],
  () => true,
  () => undefined,
).producer;

const GAUGE: MetricMetadata = {
  name: 'test.gauge',
  instrument: 'gauge',
  unit: '1',
  description: 'A test metric.',
  attributes: [],
  group: 'test',
  enabled: true,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scrape controller', () => {
  it("collects the scraper's producer, reading its snapshot", async () => {
    const { batch, errors } = await scrapeOnce(createTickScraper(5));
    expect(errors.size).toBe(0);
    const metric = batch.scopeMetrics[0]?.metrics[0];
    expect(metric?.descriptor.name).toBe('test.ticks');
    expect(metric?.dataPoints.map((p) => [p.value, p.attributes])).toEqual([[5, { source: 'a' }]]);
  });

  it('never overlaps scrapes, even when one takes longer than the interval', async () => {
    let active = 0;
    let maxActive = 0;
    let scrapes = 0;
    const slow: Scraper = {
      metricProducer: NOTHING,
      async scrape() {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(60); // the scrape's own duration (longer than the interval), not a wait
        active -= 1;
        scrapes += 1;
        return { errors: new Map() };
      },
    };
    const batches: ResourceMetrics[] = [];
    const receiver = createScraperReceiver(
      createTestSettings('slow', 'receiver'),
      { collection_interval: 10, initial_delay: 0, timeout: 1000 },
      slow,
    );
    await receiver.start(memorySink(batches));
    await sleep(400);
    await receiver.shutdown();
    expect(maxActive).toBe(1);
    expect(scrapes).toBeGreaterThanOrEqual(3);
    expect(batches.length).toBe(scrapes);
  });

  it('bounds a scrape by its timeout, aborts it and carries on with the next', async () => {
    let aborted = 0;
    let calls = 0;
    const hanging: Scraper = {
      metricProducer: NOTHING,
      scrape(signal) {
        calls += 1;
        return new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted += 1;
          });
          if (calls > 1) resolve({ errors: new Map() });
        });
      },
    };
    const settings = createTestSettings('hang', 'receiver');
    const batches: ResourceMetrics[] = [];
    const receiver = createScraperReceiver(
      settings,
      { collection_interval: 20, initial_delay: 0, timeout: 50 },
      hanging,
    );
    await receiver.start(memorySink(batches));
    await sleep(250);
    await receiver.shutdown();
    expect(aborted).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(batches.length).toBe(calls - 1);
    expect(settings.telemetry.counts.scrapes).toBe(calls);
  });

  it('shuts down safely twice and before start', async () => {
    let shutdowns = 0;
    const scraper: Scraper = {
      metricProducer: NOTHING,
      scrape: () => Promise.resolve({ errors: new Map() }),
      shutdown() {
        shutdowns += 1;
        return Promise.resolve();
      },
    };
    const receiver = createScraperReceiver(
      createTestSettings('x', 'receiver'),
      { collection_interval: 1000, initial_delay: 0 },
      scraper,
    );
    await receiver.shutdown();
    await receiver.shutdown();
    expect(shutdowns).toBe(1);
    await receiver.start(memorySink([]));
    expect(shutdowns).toBe(1);
  });
});

describe('series that are no longer observed', () => {
  it('leave the batch: a process that exited is not reported forever', async () => {
    let round = 0;
    const catalogue: MetricMetadata[] = [
      { ...GAUGE, name: 'test.gauge' },
      { ...GAUGE, name: 'test.counter', instrument: 'counter' },
      { ...GAUGE, name: 'test.single' },
    ];
    const scraper: Scraper = {
      metricProducer: new SnapshotSet(
        'test/scope',
        catalogue,
        () => true,
        (set) => {
          if (round === 0) {
            set.observe('test.gauge', 1, { pid: 1 });
            set.observe('test.counter', 5, { pid: 1 });
          }
          set.observe('test.gauge', 2, { pid: 2 });
          set.observe('test.counter', 7, { pid: 2 });
          if (round === 0) set.observe('test.single', 3, { vm: 'a' });
          set.observe('test.single', 4, { vm: 'b' });
        },
      ).producer,
      scrape: () => Promise.resolve({ errors: new Map() }),
    };
    const runner = new ScrapeRunner(scraper, createTestSettings('test', 'receiver'));
    const points = (batch: ResourceMetrics) =>
      batch.scopeMetrics.flatMap((s) =>
        s.metrics.flatMap((m) => m.dataPoints.map((p) => [m.descriptor.name, p.attributes, p.value])),
      );
    expect(points((await runner.run(1000)).batch)).toEqual([
      ['test.gauge', { pid: 1 }, 1],
      ['test.gauge', { pid: 2 }, 2],
      ['test.counter', { pid: 1 }, 5],
      ['test.counter', { pid: 2 }, 7],
      ['test.single', { vm: 'a' }, 3],
      ['test.single', { vm: 'b' }, 4],
    ]);
    round = 1;
    expect(points((await runner.run(1000)).batch)).toEqual([
      ['test.gauge', { pid: 2 }, 2],
      ['test.counter', { pid: 2 }, 7],
      ['test.single', { vm: 'b' }, 4],
    ]);
  });
});
