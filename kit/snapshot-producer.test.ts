import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { MetricData, SumMetricData } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricMetadata } from './metadata.ts';
import { ScrapeRunner } from './scrape-controller.ts';
import type { Series } from './snapshot-producer.ts';
import { SnapshotProducer } from './snapshot-producer.ts';
import { createTestSettings } from '../test/support/settings.ts';

const metric = (name: string, instrument: MetricMetadata['instrument'], unit = 'By'): MetricMetadata => ({
  name,
  instrument,
  unit,
  description: `${name} description`,
  attributes: [],
  group: 'g',
  enabled: true,
});
const METRICS = [
  metric('test.counter', 'counter'),
  metric('test.updown', 'updowncounter'),
  metric('test.gauge', 'gauge', '1'),
  metric('test.off', 'gauge'),
];

/** A producer whose callback observes `observations` (name, value, attributes). */
function producerOf(observations: () => [string, number, Attributes][]): SnapshotProducer {
  return new SnapshotProducer(
    'test/scope',
    METRICS,
    (m) => m.name !== 'test.off',
    (p) => {
      for (const [name, value, attributes] of observations()) p.observe(name, value, attributes);
    },
    (m) => (m.unit === '1' ? ValueType.DOUBLE : ValueType.INT),
  );
}

async function collect(producer: SnapshotProducer): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await producer.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** When the tests' clock starts: 2026-01-01T00:00:00Z, in ms. */
const T0 = Date.UTC(2026, 0, 1);

/** `ms` after {@link T0}, as the producer stamps it. */
const at = (ms: number) => millisToHrTime(T0 + ms);

/** The clock moves on by `ms`. */
const clockMovesOn = (ms: number) => vi.advanceTimersByTime(ms);

describe('snapshot producer', () => {
  // The producer stamps points with `Date.now()`: a fake clock, moved on by the tests.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts new sums at the origin: the series' own (a process start), else the producer's (the boot); gauges at their time; resets at now", async () => {
    let value = 10;
    let held: Series | undefined;
    const producer = new SnapshotProducer(
      'test/scope',
      METRICS,
      (m) => m.name !== 'test.off',
      (p) => {
        p.observe('test.counter', value, { k: 'boot' });
        p.observe('test.gauge', value, {});
        const counter = p.metric('test.updown');
        if (counter !== undefined) {
          held ??= counter.series({ k: 'own' }, [1_700_000_500, 250_000_000]);
          counter.record(held, value);
        }
      },
      undefined,
      () => [1_700_000_000, 0],
    );
    const startOf = (metrics: MetricData[], name: string) =>
      metrics.find((m) => m.descriptor.name === name)?.dataPoints[0]?.startTime;
    const first = await collect(producer);
    expect(startOf(first, 'test.counter')).toEqual([1_700_000_000, 0]);
    expect(startOf(first, 'test.updown')).toEqual([1_700_000_500, 250_000_000]);
    const gauge = first.find((m) => m.descriptor.name === 'test.gauge')?.dataPoints[0];
    expect(gauge?.startTime).toEqual(at(0));
    expect(gauge?.endTime).toEqual(at(0));
    clockMovesOn(1_000);
    value = 5;
    const second = await collect(producer);
    // The counter went down: it restarted, now.
    expect(startOf(second, 'test.counter')).toEqual(at(1_000));
    expect(startOf(second, 'test.updown')).toEqual([1_700_000_500, 250_000_000]);
  });

  it('types bytes and sums of things as integers, the rest as doubles; the scope has the version', async () => {
    const producer = new SnapshotProducer(
      'test/scope',
      [
        metric('b', 'gauge', 'By'),
        metric('n', 'counter', '{packet}'),
        metric('l', 'gauge', '{thread}'),
        metric('s', 'counter', 's'),
      ],
      () => true,
      (p) => {
        for (const name of ['b', 'n', 'l', 's']) p.observe(name, 1.5);
      },
    );
    const { resourceMetrics } = await producer.collect();
    const metrics = resourceMetrics.scopeMetrics[0]?.metrics ?? [];
    expect(metrics.map((m) => [m.descriptor.name, m.descriptor.valueType, m.dataPoints[0]?.value])).toEqual([
      ['b', ValueType.INT, 1],
      ['n', ValueType.INT, 1],
      ['l', ValueType.DOUBLE, 1.5],
      ['s', ValueType.DOUBLE, 1.5],
    ]);
    expect(resourceMetrics.scopeMetrics[0]?.scope.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('reports each series with the start time of its first observation, resetting a counter that went down', async () => {
    const a = { k: 'a' };
    const b = { k: 'b' };
    let values: [string, number, Attributes][] = [
      ['test.counter', 10, a],
      ['test.counter', 20, b],
    ];
    const producer = producerOf(() => values);
    const first = await collect(producer);
    expect(first).toHaveLength(1);
    const [sum] = first as [SumMetricData];
    expect(sum.descriptor).toEqual({
      name: 'test.counter',
      description: 'test.counter description',
      unit: 'By',
      valueType: ValueType.INT,
    });
    expect(sum.dataPointType).toBe(DataPointType.SUM);
    expect(sum.isMonotonic).toBe(true);
    expect(sum.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    expect(sum.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ k: 'a' }, 10],
      [{ k: 'b' }, 20],
    ]);
    expect(sum.dataPoints.map((p) => [p.startTime, p.endTime])).toEqual([
      [at(0), at(0)],
      [at(0), at(0)],
    ]);

    clockMovesOn(1_000);
    // A new object with the same values is the same series; b went down: a reset.
    values = [
      ['test.counter', 15, { k: 'a' }],
      ['test.counter', 5, b],
    ];
    const [second] = (await collect(producer)) as [SumMetricData];
    expect(second.dataPoints.map((p) => p.value)).toEqual([15, 5]);
    expect(second.dataPoints.map((p) => [p.startTime, p.endTime])).toEqual([
      [at(0), at(1_000)],
      [at(1_000), at(1_000)],
    ]);
  });

  it('reports only the series observed this time, and starts a returning series over', async () => {
    const a = { k: 'a' };
    let values: [string, number, Attributes][] = [
      ['test.gauge', 0.5, a],
      ['test.updown', 3, { k: 'b' }],
    ];
    const producer = producerOf(() => values);
    const first = await collect(producer);
    expect(first.map((m) => m.descriptor.name)).toEqual(['test.updown', 'test.gauge']);
    clockMovesOn(1_000);
    values = [['test.gauge', 0.25, a]];
    const second = await collect(producer);
    expect(second.map((m) => [m.descriptor.name, m.dataPoints.map((p) => p.value)])).toEqual([
      ['test.gauge', [0.25]],
    ]);
    expect(second[0]?.dataPointType).toBe(DataPointType.GAUGE);
    const [gauge] = second[0]?.dataPoints ?? [];
    expect([gauge?.startTime, gauge?.endTime]).toEqual([at(0), at(1_000)]);
    clockMovesOn(1_000);
    values = [['test.updown', 2, { k: 'b' }]];
    const [third] = (await collect(producer)) as [SumMetricData];
    expect(third.isMonotonic).toBe(false);
    const [returned] = third.dataPoints;
    expect([returned?.startTime, returned?.endTime]).toEqual([at(2_000), at(2_000)]);
  });

  it('truncates integer metrics, drops non-finite values and switched-off metrics, keeps the last of two values', async () => {
    const a = { k: 'a' };
    const producer = producerOf(() => [
      ['test.counter', 7.9, a],
      ['test.updown', Number.NaN, a],
      ['test.gauge', Number.POSITIVE_INFINITY, a],
      ['test.off', 1, a],
      ['test.gauge', 0.1, { k: 'x' }],
      ['test.gauge', 0.2, { k: 'x' }],
    ]);
    const data = await collect(producer);
    expect(data.map((m) => [m.descriptor.name, m.dataPoints.map((p) => [p.attributes, p.value])])).toEqual([
      ['test.counter', [[{ k: 'a' }, 7]]],
      ['test.gauge', [[{ k: 'x' }, 0.2]]],
    ]);
    expect(producer.has('test.off')).toBe(false);
    expect(producer.metric('test.gauge')?.descriptor.valueType).toBe(ValueType.DOUBLE);
  });

  it('records through held series: start kept while recorded every time, a counter reset and a gap start it over', async () => {
    const a = { k: 'a' };
    const b = { k: 'b' };
    let values: [number, number][] = [];
    let held: { a: Series; b: Series } | undefined;
    const producer = new SnapshotProducer(
      'test/scope',
      METRICS,
      () => true,
      (p) => {
        const counter = p.metric('test.counter');
        if (counter === undefined) throw new Error('test.counter is off');
        held ??= { a: counter.series(a), b: counter.series(b) };
        const [va, vb] = values;
        if (va !== undefined) counter.record(held.a, va[1]);
        if (vb !== undefined) counter.record(held.b, vb[1]);
        // A second value in one collection replaces the first; a fraction of an integer
        // metric is truncated; a non-finite value is dropped.
        if (va !== undefined && va[0] === 2) counter.record(held.a, 21.7);
        if (vb !== undefined && vb[0] === 2) counter.record(held.b, Number.NaN);
      },
      () => ValueType.INT,
    );
    const points = async () => {
      const [sum] = (await collect(producer)) as [SumMetricData | undefined];
      return sum?.dataPoints ?? [];
    };
    values = [
      [1, 10],
      [1, 20],
    ];
    const first = await points();
    expect(first.map((p) => [p.attributes, p.value])).toEqual([
      [a, 10],
      [b, 20],
    ]);
    expect(first.map((p) => [p.startTime, p.endTime])).toEqual([
      [at(0), at(0)],
      [at(0), at(0)],
    ]);
    clockMovesOn(1_000);
    // a goes on (start kept, last value of two, truncated); b went down: a reset.
    values = [
      [2, 15],
      [2, 5],
    ];
    const second = await points();
    expect(second.map((p) => p.value)).toEqual([21, 5]);
    expect(second.map((p) => [p.startTime, p.endTime])).toEqual([
      [at(0), at(1_000)],
      [at(1_000), at(1_000)],
    ]);
    clockMovesOn(1_000);
    // Neither recorded: no point; both back the time after: a new start for each.
    values = [];
    expect(await points()).toEqual([]);
    clockMovesOn(1_000);
    values = [
      [3, 30],
      [3, 40],
    ];
    const fourth = await points();
    expect(fourth.map((p) => p.value)).toEqual([30, 40]);
    expect(fourth.map((p) => [p.startTime, p.endTime])).toEqual([
      [at(3_000), at(3_000)],
      [at(3_000), at(3_000)],
    ]);
  });

  it('reports exactly the points of each collection when their number changes', async () => {
    const sets = Array.from({ length: 40 }, (_, i) => ({ i }));
    let count = 30;
    const producer = producerOf(() => sets.slice(0, count).map((a, i) => ['test.updown', i, a]));
    for (const n of [30, 18, 40, 0, 25]) {
      count = n;
      const data = await collect(producer);
      const points = data[0]?.dataPoints ?? [];
      expect(points).toHaveLength(n);
      expect(points.map((p) => p.value)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(Object.keys(points).length).toBe(n);
    }
  });

  it('reports a failing callback as a collection error', async () => {
    const producer = new SnapshotProducer(
      'test/scope',
      METRICS,
      () => true,
      () => {
        throw new Error('snapshot broken');
      },
    );
    const { resourceMetrics, errors } = await producer.collect();
    expect(resourceMetrics.scopeMetrics).toEqual([]);
    expect(errors).toEqual([new Error('snapshot broken')]);
  });

  it('is collected by the scrape runner, under the collector resource', async () => {
    let value = 1;
    const producer = producerOf(() => [['test.counter', value, { k: 'a' }]]);
    const runner = new ScrapeRunner(
      {
        metricProducer: producer,
        scrape: () => Promise.resolve({ errors: new Map() }),
      },
      createTestSettings('test', 'receiver'),
    );
    const { batch, points } = await runner.run(1000);
    value = 3;
    const again = await runner.run(1000);
    for (const b of [batch, again.batch]) {
      expect(b.resource.attributes['host.name']).toBe('test-host');
      expect(b.scopeMetrics.map((s) => [s.scope.name, s.metrics.map((m) => m.descriptor.name)])).toEqual([
        ['test/scope', ['test.counter']],
      ]);
    }
    expect(again.batch.scopeMetrics[0]?.metrics[0]?.dataPoints[0]?.value).toBe(3);
    expect([points, again.points]).toEqual([1, 1]);
    await runner.shutdown();
  });
});
