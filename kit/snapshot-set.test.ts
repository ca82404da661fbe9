import v8 from 'node:v8';
import vm from 'node:vm';
import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { DataPoint, MetricData, SumMetricData } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestSettings } from '../test/support/settings.ts';
import type { MetricMetadata } from './metadata.ts';
import { ScrapeRunner } from './scrape-controller.ts';
import type { SnapshotSetOptions } from './snapshot-set.ts';
import { SnapshotSet } from './snapshot-set.ts';

const metric = (name: string, instrument: MetricMetadata['instrument'], unit: string): MetricMetadata => ({
  name,
  instrument,
  unit,
  description: `${name} description`,
  attributes: [],
  group: name.startsWith('off.') ? 'off' : 'on',
  enabled: true,
});

const CATALOGUE = [
  metric('t.bytes', 'counter', 'By'),
  metric('t.packets', 'counter', '{packet}'),
  metric('t.threads', 'updowncounter', '{thread}'),
  metric('t.load', 'gauge', '{thread}'),
  metric('t.time', 'counter', 's'),
  metric('t.up', 'gauge', '1'),
  metric('off.gauge', 'gauge', '1'),
];

type Observation = [string, number | undefined, Attributes?];

/** A set whose callback observes whatever `observations` holds at collection time. */
function setOf(observations: { now: Observation[] }, options?: SnapshotSetOptions): SnapshotSet {
  return new SnapshotSet(
    'test/set',
    CATALOGUE,
    (m) => m.group === 'on',
    (s) => {
      for (const [name, value, attributes] of observations.now) s.observe(name, value, attributes);
    },
    options,
  );
}

async function collect(set: SnapshotSet): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await set.producer.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** [name, attributes, value] of every point, in order. */
const pointsOf = (data: MetricData[]) =>
  data.flatMap((m) =>
    (m.dataPoints as DataPoint<number>[]).map((p) => [m.descriptor.name, p.attributes, p.value]),
  );

const point = (data: MetricData[], name: string, index = 0): DataPoint<number> | undefined =>
  data.find((m) => m.descriptor.name === name)?.dataPoints[index] as DataPoint<number> | undefined;

/** Lets the current task end: a weak reference's target is kept alive until then. */
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** When the tests' clock starts: 2026-01-01T00:00:00Z, in ms. */
const T0 = Date.UTC(2026, 0, 1);

/** `ms` after {@link T0}, as points are stamped. */
const at = (ms: number) => millisToHrTime(T0 + ms);

/** The clock moves on by `ms`. */
const clockMovesOn = (ms: number) => vi.advanceTimersByTime(ms);

describe('snapshot set', () => {
  // Points are stamped with `Date.now()`: a fake clock, moved on by the tests.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('publishes the enabled metrics of its catalogue, integers for bytes and sums of things', async () => {
    const observations = {
      now: [
        ['t.bytes', 4096.9, { dev: 'sda' }],
        ['t.packets', 17.5, { dev: 'eth0' }],
        ['t.threads', 7, {}],
        ['t.load', 0.75],
        ['t.time', 12.34, { mode: 'user' }],
        ['t.up', 1, { target: 'a' }],
        ['off.gauge', 1, {}],
      ] as Observation[],
    };
    const set = setOf(observations);
    expect(['t.bytes', 't.up', 'off.gauge', 'nope'].map((n) => set.has(n))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const data = await collect(set);
    expect(data.map((m) => [m.descriptor.name, m.descriptor.valueType, m.dataPointType])).toEqual([
      ['t.bytes', ValueType.INT, DataPointType.SUM],
      ['t.packets', ValueType.INT, DataPointType.SUM],
      ['t.threads', ValueType.INT, DataPointType.SUM],
      ['t.load', ValueType.DOUBLE, DataPointType.GAUGE],
      ['t.time', ValueType.DOUBLE, DataPointType.SUM],
      ['t.up', ValueType.DOUBLE, DataPointType.GAUGE],
    ]);
    expect(pointsOf(data)).toEqual([
      ['t.bytes', { dev: 'sda' }, 4096],
      ['t.packets', { dev: 'eth0' }, 17],
      ['t.threads', {}, 7],
      ['t.load', {}, 0.75],
      ['t.time', { mode: 'user' }, 12.34],
      ['t.up', { target: 'a' }, 1],
    ]);
    const bytes = data[0] as SumMetricData;
    expect(bytes.descriptor).toEqual({
      name: 't.bytes',
      description: 't.bytes description',
      unit: 'By',
      valueType: ValueType.INT,
    });
    expect(bytes.isMonotonic).toBe(true);
    expect((data[2] as SumMetricData).isMonotonic).toBe(false);
    expect(bytes.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    // Every point of a collection ends at the same time.
    const end = bytes.dataPoints[0]?.endTime;
    for (const m of data) for (const p of m.dataPoints) expect(p.endTime).toEqual(end);
  });

  it('drops undefined and non-finite values, keeps the last of two values of one series', async () => {
    const set = setOf({
      now: [
        ['t.up', undefined, { target: 'a' }],
        ['t.up', Number.NaN, { target: 'b' }],
        ['t.time', Number.POSITIVE_INFINITY, {}],
        ['t.up', 0, { target: 'c' }],
        ['t.up', 1, { target: 'c' }],
      ],
    });
    expect(pointsOf(await collect(set))).toEqual([['t.up', { target: 'c' }, 1]]);
  });

  it('starts new sums at the origin when there is one, gauges when first seen', async () => {
    const set = setOf(
      {
        now: [
          ['t.bytes', 10, { k: 'a' }],
          ['t.up', 1, { k: 'a' }],
        ],
      },
      { origin: () => [1_700_000_000, 500_000_000] },
    );
    const data = await collect(set);
    expect(point(data, 't.bytes')?.startTime).toEqual([1_700_000_000, 500_000_000]);
    const gauge = point(data, 't.up');
    expect(gauge?.startTime).toEqual(gauge?.endTime);
  });

  it('without an origin, starts each series when first seen, keeps it while observed, restarts a counter that went down', async () => {
    const a = { k: 'a' };
    const b = { k: 'b' };
    const observations = {
      now: [
        ['t.bytes', 100, a],
        ['t.bytes', 200, b],
        ['t.threads', 5, a],
      ] as Observation[],
    };
    const set = setOf(observations);
    const first = await collect(set);
    const start = point(first, 't.bytes')?.startTime;
    expect(start).toEqual(at(0));
    expect(point(first, 't.bytes')?.endTime).toEqual(at(0));
    expect(point(first, 't.bytes', 1)?.startTime).toEqual(at(0));
    expect(point(first, 't.threads')?.startTime).toEqual(at(0));

    clockMovesOn(1_000);
    // a goes on (a new object with the same values is the same series); b went down: reset;
    // the up-down counter going down is no reset.
    observations.now = [
      ['t.bytes', 150, { k: 'a' }],
      ['t.bytes', 20, b],
      ['t.threads', 3, a],
    ];
    const second = await collect(set);
    expect(pointsOf(second)).toEqual([
      ['t.bytes', a, 150],
      ['t.bytes', b, 20],
      ['t.threads', a, 3],
    ]);
    const [pa, pb] = second[0]?.dataPoints ?? [];
    expect([pa?.startTime, pa?.endTime]).toEqual([at(0), at(1_000)]);
    expect([pb?.startTime, pb?.endTime]).toEqual([at(1_000), at(1_000)]);
    expect(point(second, 't.threads')?.startTime).toEqual(at(0));
  });

  it('reports only the series observed this time, and starts a returning one over', async () => {
    const observations = {
      now: [
        ['t.packets', 1, { k: 'a' }],
        ['t.packets', 2, { k: 'b' }],
        ['t.up', 1, { k: 'a' }],
      ] as Observation[],
    };
    const set = setOf(observations);
    const first = await collect(set);
    clockMovesOn(1_000);
    observations.now = [['t.packets', 3, { k: 'b' }]];
    const second = await collect(set);
    expect(pointsOf(second)).toEqual([['t.packets', { k: 'b' }, 3]]);
    expect(point(second, 't.packets')?.startTime).toEqual(point(first, 't.packets', 1)?.startTime);
    expect(point(second, 't.packets')?.startTime).toEqual(at(0));
    clockMovesOn(1_000);
    observations.now = [
      ['t.packets', 4, { k: 'a' }],
      ['t.packets', 5, { k: 'b' }],
    ];
    const third = await collect(set);
    expect(pointsOf(third)).toEqual([
      ['t.packets', { k: 'a' }, 4],
      ['t.packets', { k: 'b' }, 5],
    ]);
    // a was gone for a collection: a new series, from now.
    const back = point(third, 't.packets');
    expect([back?.startTime, back?.endTime]).toEqual([at(2_000), at(2_000)]);
    expect(point(third, 't.packets', 1)?.startTime).toEqual(at(0));
    clockMovesOn(1_000);
    observations.now = [];
    expect(await collect(set)).toEqual([]);
  });

  it('keeps no attribute object of a past collection when every collection builds new ones', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const made: WeakRef<Attributes>[] = [];
    const set = new SnapshotSet(
      'test/set',
      CATALOGUE,
      () => true,
      (s) => {
        // New objects at every collection, as the libvirt and kubevirt receivers build them.
        const attributes = { k: 'a' };
        made.push(new WeakRef(attributes));
        s.observe('t.packets', 1, attributes);
      },
    );
    for (let i = 0; i < 4; i++) expect(pointsOf(await collect(set))).toEqual([['t.packets', { k: 'a' }, 1]]);
    // A weak reference is cleared by a collection after the task that made it.
    await nextTask();
    gc();
    await nextTask();
    // The series keeps the object it was first seen with, and the last collection's is still
    // its lookup key; those of the collections between are gone.
    expect(made.map((ref) => ref.deref() !== undefined)).toEqual([true, false, false, true]);
  });

  it('ignores observations outside its callback', async () => {
    const observations = { now: [['t.up', 1, { k: 'in' }]] as Observation[] };
    const set = setOf(observations);
    set.observe('t.up', 1, { k: 'outside' });
    expect(pointsOf(await collect(set))).toEqual([['t.up', { k: 'in' }, 1]]);
    set.observe('t.up', 1, { k: 'outside' });
    expect(pointsOf(await collect(set))).toEqual([['t.up', { k: 'in' }, 1]]);
  });

  it('reports a failing callback as a collection error, and collects again after it', async () => {
    let fail = true;
    const set = new SnapshotSet(
      'test/set',
      CATALOGUE,
      () => true,
      (s) => {
        if (fail) throw new Error('snapshot broken');
        s.observe('t.up', 1);
      },
    );
    const { resourceMetrics, errors } = await set.producer.collect();
    expect(resourceMetrics.scopeMetrics).toEqual([]);
    expect(errors).toEqual([new Error('snapshot broken')]);
    fail = false;
    expect(pointsOf(await collect(set))).toEqual([['t.up', {}, 1]]);
  });

  it("is a scraper's metric producer: collected by the scrape runner after each scrape, under the collector resource", async () => {
    let snapshot: Observation[] = [];
    let scrapes = 0;
    const set = new SnapshotSet(
      'inframeter/receiver/test',
      CATALOGUE,
      (m) => m.group === 'on',
      (s) => {
        for (const [name, value, attributes] of snapshot) s.observe(name, value, attributes);
      },
    );
    const runner = new ScrapeRunner(
      {
        metricProducer: set.producer,
        scrape: () => {
          scrapes += 1;
          snapshot = [
            ['t.packets', scrapes * 10, { k: 'a' }],
            ['t.up', scrapes === 1 ? 1 : undefined, { k: 'a' }],
          ];
          return Promise.resolve({ errors: new Map() });
        },
      },
      createTestSettings('test', 'receiver'),
    );
    const first = await runner.run(1000);
    const second = await runner.run(1000);
    expect(first.batch.resource.attributes['host.name']).toBe('test-host');
    const names = (b: typeof first.batch) =>
      b.scopeMetrics.map((s) => [s.scope.name, s.metrics.map((m) => m.descriptor.name)]);
    expect(names(first.batch)).toEqual([['inframeter/receiver/test', ['t.packets', 't.up']]]);
    expect(names(second.batch)).toEqual([['inframeter/receiver/test', ['t.packets']]]);
    expect(pointsOf(second.batch.scopeMetrics.flatMap((s) => s.metrics))).toEqual([
      ['t.packets', { k: 'a' }, 20],
    ]);
    expect([first.points, second.points]).toEqual([2, 1]);
    await runner.shutdown();
  });
});
