import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { exemplarsOf } from '../../kit/exemplars.ts';
import { int64Of, withInt64 } from '../../kit/int64.ts';
import { SeriesStore } from './store.ts';

const descriptor = (name: string, unit = '') => ({
  name,
  description: '',
  unit,
  valueType: ValueType.DOUBLE,
});

function sum(
  name: string,
  points: [value: number, attributes: Attributes, start: number, end: number][],
  options: { temporality?: AggregationTemporality; monotonic?: boolean } = {},
): MetricData {
  return {
    descriptor: descriptor(name),
    aggregationTemporality: options.temporality ?? AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: options.monotonic ?? true,
    dataPoints: points.map(([value, attributes, start, end]) => ({
      value,
      attributes,
      startTime: [start, 0] as HrTime,
      endTime: [end, 0] as HrTime,
    })),
  };
}

function batch(host: string, ...metrics: MetricData[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': host }),
    scopeMetrics: [{ scope: { name: 'test' }, metrics }],
  };
}

/** The stored points as `resource host / metric / attributes → value`, in snapshot order. */
function contents(store: SeriesStore): string[] {
  const out: string[] = [];
  for (const rm of store.snapshot()) {
    for (const sm of rm.scopeMetrics) {
      for (const metric of sm.metrics) {
        for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
          const value =
            typeof point.value === 'number' ? point.value : JSON.stringify(point.value.buckets.counts);
          out.push(
            `${String(rm.resource.attributes['host.name'])}/${metric.descriptor.name}/${JSON.stringify(point.attributes)}=${value}@${point.startTime[0]}-${point.endTime[0]}`,
          );
        }
      }
    }
  }
  return out;
}

describe('SeriesStore', () => {
  it('keeps the latest point of each series', () => {
    const store = new SeriesStore(60_000, () => 0);
    store.ingest(
      batch(
        'a',
        sum('c', [
          [1, { k: 'x' }, 0, 10],
          [5, { k: 'y' }, 0, 10],
        ]),
      ),
    );
    const report = store.ingest(batch('a', sum('c', [[2, { k: 'x' }, 0, 20]])));
    expect(report).toEqual({ stored: 1, dropped: new Map() });
    expect(contents(store)).toEqual(['a/c/{"k":"x"}=2@0-20', 'a/c/{"k":"y"}=5@0-10']);
  });

  it('ignores a point older than the one held, and counts it', () => {
    const store = new SeriesStore(60_000, () => 0);
    store.ingest(batch('a', sum('c', [[2, {}, 0, 20]])));
    const report = store.ingest(batch('a', sum('c', [[1, {}, 0, 10]])));
    expect(report).toEqual({ stored: 0, dropped: new Map([['out_of_order', 1]]) });
    expect(contents(store)).toEqual(['a/c/{}=2@0-20']);
  });

  it('tells series apart by attributes whatever their key order', () => {
    const store = new SeriesStore(60_000, () => 0);
    store.ingest(batch('a', sum('c', [[1, { a: '1', b: '2' }, 0, 10]])));
    store.ingest(batch('a', sum('c', [[3, { b: '2', a: '1' }, 0, 20]])));
    expect(contents(store)).toEqual(['a/c/{"b":"2","a":"1"}=3@0-20']);
  });

  it('keeps the same series of two resources apart, grouped by resource', () => {
    const store = new SeriesStore(60_000, () => 0);
    store.ingest(batch('b', sum('c', [[2, {}, 0, 10]])));
    store.ingest(batch('a', sum('c', [[1, {}, 0, 10]]), sum('d', [[4, {}, 0, 10]])));
    store.ingest(batch('b', sum('d', [[3, {}, 0, 10]])));
    const snapshot = store.snapshot();
    expect(snapshot.map((rm) => rm.resource.attributes['host.name'])).toEqual(['a', 'b']);
    expect(contents(store)).toEqual(['a/c/{}=1@0-10', 'a/d/{}=4@0-10', 'b/c/{}=2@0-10', 'b/d/{}=3@0-10']);
  });

  it('forgets series not updated within the expiration time', () => {
    let now = 1_000;
    const store = new SeriesStore(5_000, () => now);
    store.ingest(batch('a', sum('old', [[1, {}, 0, 1]]), sum('kept', [[1, {}, 0, 1]])));
    now = 4_000;
    store.ingest(batch('a', sum('kept', [[2, {}, 0, 4]])));
    now = 6_000; // old is 5 s old: not yet past the expiration
    expect(contents(store)).toEqual(['a/kept/{}=2@0-4', 'a/old/{}=1@0-1']);
    now = 6_001;
    expect(contents(store)).toEqual(['a/kept/{}=2@0-4']);
    expect(store.size).toBe(1);
    now = 9_001;
    expect(contents(store)).toEqual([]);
  });

  it('keeps snapshot order right as series come and go, with the same attributes objects reused', () => {
    let now = 0;
    const store = new SeriesStore(1_000, () => now);
    const [x, y, z] = [{ k: 'x' }, { k: 'y' }, { k: 'z' }];
    store.ingest(batch('a', sum('m', [[1, y, 0, 1]])));
    expect(contents(store)).toEqual(['a/m/{"k":"y"}=1@0-1']);
    store.ingest(
      batch(
        'a',
        sum('m', [
          [2, y, 0, 2],
          [3, x, 0, 2],
        ]),
      ),
    );
    expect(contents(store)).toEqual(['a/m/{"k":"x"}=3@0-2', 'a/m/{"k":"y"}=2@0-2']);
    now = 1_500;
    store.ingest(batch('a', sum('m', [[4, z, 0, 3]]), sum('b', [[5, x, 0, 3]])));
    expect(contents(store)).toEqual(['a/b/{"k":"x"}=5@0-3', 'a/m/{"k":"z"}=4@0-3']);
  });

  it('sweeps expired series on ingest too, so an endpoint nobody scrapes does not grow', () => {
    let now = 0;
    const store = new SeriesStore(1_000, () => now);
    for (let i = 0; i < 5; i += 1) {
      now = i * 2_000;
      store.ingest(batch('a', sum('c', [[1, { i }, 0, i + 1]])));
    }
    expect(store.size).toBeLessThanOrEqual(2);
  });

  it('adds up contiguous delta sums into totals and restarts on a gap', () => {
    const store = new SeriesStore(60_000, () => 0);
    const delta = { temporality: AggregationTemporality.DELTA };
    store.ingest(batch('a', sum('c', [[3, {}, 0, 10]], delta)));
    store.ingest(batch('a', sum('c', [[4, {}, 10, 20]], delta)));
    expect(contents(store)).toEqual(['a/c/{}=7@0-20']);
    store.ingest(batch('a', sum('c', [[5, {}, 30, 40]], delta)));
    expect(contents(store)).toEqual(['a/c/{}=5@30-40']);
    const snapshot = store.snapshot();
    expect(snapshot[0]?.scopeMetrics[0]?.metrics[0]?.aggregationTemporality).toBe(
      AggregationTemporality.CUMULATIVE,
    );
  });

  it('adds up delta integers beyond 2^53 exactly (kit/int64.ts)', () => {
    const store = new SeriesStore(60_000, () => 0);
    const delta = { temporality: AggregationTemporality.DELTA };
    const exact = (value: bigint, start: number, end: number): ResourceMetrics => {
      const metric = sum('c', [[Number(value), {}, start, end]], delta);
      return batch('a', {
        ...metric,
        dataPoints: (metric.dataPoints as DataPoint<number>[]).map((p) => withInt64(p, value)),
      } as MetricData);
    };
    store.ingest(batch('a', sum('c', [[1, {}, 0, 10]], delta)));
    store.ingest(exact(2n ** 60n + 1n, 10, 20));
    const totals = () =>
      store
        .snapshot()
        .flatMap((rm) =>
          rm.scopeMetrics.flatMap((sm) => sm.metrics.flatMap((m) => m.dataPoints as DataPoint<number>[])),
        )
        .map((p) => int64Of(p));
    expect(totals()).toEqual([2n ** 60n + 2n]);
    store.ingest(exact(2n ** 60n + 3n, 20, 30));
    expect(totals()).toEqual([2n ** 61n + 5n]);
  });

  it('adds up contiguous delta histograms with the same buckets', () => {
    const store = new SeriesStore(60_000, () => 0);
    const histogram = (counts: number[], start: number, end: number, boundaries = [1, 2]): MetricData => ({
      descriptor: descriptor('h', 's'),
      aggregationTemporality: AggregationTemporality.DELTA,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          attributes: {},
          startTime: [start, 0],
          endTime: [end, 0],
          value: {
            buckets: { boundaries, counts },
            count: counts.reduce((a, b) => a + b, 0),
            sum: 10,
            min: start,
            max: end,
          },
        },
      ],
    });
    store.ingest(batch('a', histogram([1, 0, 2], 0, 10)));
    store.ingest(batch('a', histogram([0, 5, 1], 10, 20)));
    const point = store.snapshot()[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[0] as DataPoint<Histogram>;
    expect(point.value).toEqual({
      buckets: { boundaries: [1, 2], counts: [1, 5, 3] },
      count: 9,
      sum: 20,
      min: 0,
      max: 20,
    });
    expect(point.startTime).toEqual([0, 0]);
    // Other buckets: a new total.
    store.ingest(batch('a', histogram([1, 1, 1], 20, 30, [5, 10])));
    const next = store.snapshot()[0]?.scopeMetrics[0]?.metrics[0]?.dataPoints[0] as DataPoint<Histogram>;
    expect(next.value.buckets).toEqual({ boundaries: [5, 10], counts: [1, 1, 1] });
    expect(next.startTime).toEqual([20, 0]);
  });

  it('keeps its own copy of histogram buckets', () => {
    const store = new SeriesStore(60_000, () => 0);
    const counts = [1, 2, 3];
    const metric: MetricData = {
      descriptor: descriptor('h'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          attributes: {},
          startTime: [0, 0],
          endTime: [1, 0],
          value: { buckets: { boundaries: [1, 2], counts }, count: 6 },
        },
      ],
    };
    store.ingest(batch('a', metric));
    counts[0] = 100;
    expect(contents(store)).toEqual(['a/h/{}=[1,2,3]@0-1']);
  });

  it('drops exponential histograms and delta up-down counters, and counts them', () => {
    const store = new SeriesStore(60_000, () => 0);
    const exponential: MetricData = {
      descriptor: descriptor('e'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: [
        {
          attributes: {},
          startTime: [0, 0],
          endTime: [1, 0],
          value: {
            count: 1,
            scale: 0,
            zeroCount: 0,
            positive: { offset: 0, bucketCounts: [1] },
            negative: { offset: 0, bucketCounts: [] },
          },
        },
      ],
    };
    const upDown = sum(
      'u',
      [
        [1, { a: 1 }, 0, 1],
        [2, { a: 2 }, 0, 1],
      ],
      { temporality: AggregationTemporality.DELTA, monotonic: false },
    );
    const report = store.ingest(batch('a', exponential, upDown, sum('c', [[1, {}, 0, 1]])));
    expect(report).toEqual({
      stored: 1,
      dropped: new Map([
        ['exponential_histogram', 1],
        ['delta_non_monotonic_sum', 2],
      ]),
    });
    expect(contents(store)).toEqual(['a/c/{}=1@0-1']);
  });
});

describe('SeriesStore exemplars (kit/exemplars.ts)', () => {
  const withExemplar = (metric: MetricData, value: number): MetricData =>
    ({
      ...metric,
      dataPoints: metric.dataPoints.map((p) => ({
        ...p,
        exemplars: [{ filteredAttributes: {}, value, timestamp: undefined }],
      })),
    }) as MetricData;
  const held = (store: SeriesStore): number[] =>
    store
      .snapshot()
      .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
      .flatMap((m) =>
        (m.dataPoints as DataPoint<unknown>[]).flatMap((p) => exemplarsOf(p).map((e) => e.value)),
      );

  it('keeps the exemplars of the latest point, cumulative or added-up delta', () => {
    const store = new SeriesStore(60_000, () => 0);
    store.ingest(batch('h', withExemplar(sum('c', [[1, {}, 0, 10]]), 0.5)));
    store.ingest(batch('h', withExemplar(sum('c', [[2, {}, 0, 20]]), 0.7)));
    expect(held(store)).toEqual([0.7]);
    const delta = { temporality: AggregationTemporality.DELTA };
    store.ingest(batch('h', withExemplar(sum('d', [[1, {}, 0, 10]], delta), 1.5)));
    store.ingest(batch('h', withExemplar(sum('d', [[2, {}, 10, 20]], delta), 2.5)));
    expect(held(store)).toEqual([0.7, 2.5]);
    expect(contents(store)).toEqual(['h/c/{}=2@0-20', 'h/d/{}=3@0-20']);
  });
});
