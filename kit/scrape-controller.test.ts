import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

/** Moves fake time on to `at` (a `performance.now()` reading), firing the timers due by then. */
const advanceTo = (at: number) => vi.advanceTimersByTimeAsync(at - performance.now());

describe('scrape controller', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("collects the scraper's producer, reading its snapshot", async () => {
    const { batch, errors } = await scrapeOnce(createTickScraper(5));
    expect(errors.size).toBe(0);
    const metric = batch.scopeMetrics[0]?.metrics[0];
    expect(metric?.descriptor.name).toBe('test.ticks');
    expect(metric?.dataPoints.map((p) => [p.value, p.attributes])).toEqual([[5, { source: 'a' }]]);
  });

  it('never overlaps scrapes, even when one takes longer than the interval', async () => {
    // The schedule runs on timers and nothing here does I/O: time is the test's to move.
    vi.useFakeTimers();
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    const ends: (() => void)[] = [];
    const slow: Scraper = {
      metricProducer: NOTHING,
      async scrape() {
        starts.push(performance.now());
        active += 1;
        maxActive = Math.max(maxActive, active);
        // The scrape lasts until the test ends it.
        await new Promise<void>((resolve) => ends.push(resolve));
        active -= 1;
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
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toHaveLength(1);
    // Ten intervals pass while the first scrape runs: none starts beside it.
    await advanceTo(starts[0]! + 100);
    expect(starts).toHaveLength(1);
    ends.shift()?.();
    // Overdue by then: the next starts as soon as the first has ended (within the 1 ms a
    // 0 ms timer takes in Node).
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toHaveLength(2);
    expect(batches).toHaveLength(1);
    // A scrape shorter than the interval: the next starts one interval after its start.
    await advanceTo(starts[1]! + 5);
    ends.shift()?.();
    await advanceTo(starts[1]! + 9);
    expect(starts).toHaveLength(2);
    await advanceTo(starts[1]! + 10);
    expect(starts).toHaveLength(3);
    ends.shift()?.();
    await receiver.shutdown();
    expect(maxActive).toBe(1);
    expect(batches).toHaveLength(3);
  });

  it('bounds a scrape by its timeout, aborts it and carries on with the next', async () => {
    vi.useFakeTimers();
    let aborted = 0;
    const starts: number[] = [];
    const hanging: Scraper = {
      metricProducer: NOTHING,
      scrape(signal) {
        starts.push(performance.now());
        return new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted += 1;
          });
          // The first scrape never answers; the later ones answer at once.
          if (starts.length > 1) resolve({ errors: new Map() });
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
    await vi.advanceTimersByTimeAsync(1);
    await advanceTo(starts[0]! + 49);
    expect([starts.length, aborted, settings.telemetry.counts.scrapes]).toEqual([1, 0, 0]);
    await advanceTo(starts[0]! + 50);
    expect(aborted).toBe(1);
    expect(settings.telemetry.counts.failedSources).toBe(1);
    // The timed-out scrape outlasted the interval: the next runs at once (within the 1 ms a
    // 0 ms timer takes in Node), then on schedule.
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toHaveLength(2);
    await advanceTo(starts[1]! + 19);
    expect(starts).toHaveLength(2);
    await advanceTo(starts[1]! + 20);
    expect(starts).toHaveLength(3);
    await receiver.shutdown();
    expect(aborted).toBe(1);
    expect(batches).toHaveLength(2);
    expect(settings.telemetry.counts.scrapes).toBe(3);
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
