import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { withInt64 } from '../../kit/int64.ts';
import { LineBatch } from './line-protocol.ts';
import { writeOtelSchema } from './otel-schema.ts';
import { batchOf, END, numberMetric, START } from './testdata/fixtures/batches.ts';

function linesOf(metrics: MetricData[], resourceAttributesAsTags = false): LineBatch {
  const out = new LineBatch();
  writeOtelSchema(
    batchOf(metrics, { 'host.name': 'h1', zone: 'z 1' }),
    { precision: 'ns', resourceAttributesAsTags },
    out,
  );
  return out;
}

describe('otel schema', () => {
  it('writes a gauge as a float and an integer sum with the i suffix, one line per point', () => {
    const out = linesOf([
      numberMetric('system.memory.usage', [[{ state: 'used' }, 1.5]]),
      numberMetric('system.cpu.time', [[{ cpu: '0', 'cpu.mode': 'user' }, 12]], { int: true, sum: true }),
    ]);
    expect(out.text()).toBe(
      [
        'system.memory.usage,state=used value=1.5 1764003600123456789',
        'system.cpu.time,cpu=0,cpu.mode=user value=12i 1764003600123456789',
      ].join('\n'),
    );
    expect(out.points).toBe(2);
  });

  it('writes an exact integer beyond 2^53 (kit/int64.ts) as it is', () => {
    const metric = numberMetric('big', [[{}, 2 ** 63]], { int: true, sum: true });
    const exact = {
      ...metric,
      dataPoints: [withInt64(metric.dataPoints[0] as DataPoint<number>, 2n ** 63n - 1n)],
    };
    expect(linesOf([exact as MetricData]).text()).toBe('big value=9223372036854775807i 1764003600123456789');
  });

  it('adds resource attributes as tags when asked, a point attribute winning over the resource', () => {
    const out = linesOf(
      [
        numberMetric('m', [
          [{ zone: 'mine' }, 1],
          [{}, 2],
        ]),
      ],
      true,
    );
    expect(out.text()).toBe(
      [
        'm,zone=mine,host.name=h1 value=1 1764003600123456789',
        'm,host.name=h1,zone=z\\ 1 value=2 1764003600123456789',
      ].join('\n'),
    );
  });

  it('leaves out empty tags and stringifies other attribute types', () => {
    const out = linesOf([numberMetric('m', [[{ empty: '', n: 3, ok: true, list: ['a', 1] }, 1]])]);
    expect(out.text()).toBe('m,n=3,ok=true,list=["a"\\,1] value=1 1764003600123456789');
  });

  it('skips and counts points with no line protocol value', () => {
    const out = linesOf([
      numberMetric('m', [
        [{ a: '1' }, Number.NaN],
        [{ a: '2' }, 2],
      ]),
    ]);
    expect(out.text()).toBe('m,a=2 value=2 1764003600123456789');
    expect([...out.skipped]).toEqual([['not_a_number', 1]]);
  });

  it('writes a histogram as count, sum, min, max and cumulative le buckets', () => {
    const histogram: MetricData = {
      descriptor: { name: 'http.duration', description: '', unit: 's', valueType: ValueType.DOUBLE },
      dataPointType: DataPointType.HISTOGRAM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: [
        {
          attributes: { route: '/a' },
          startTime: START,
          endTime: END,
          value: {
            count: 6,
            sum: 2.5,
            min: 0.1,
            max: 2,
            buckets: { boundaries: [0.5, 1], counts: [3, 2, 1] },
          },
        },
      ],
    };
    expect(linesOf([histogram]).text()).toBe(
      'http.duration,route=/a count=6i,sum=2.5,min=0.1,max=2,0.5=3i,1=5i,+Inf=6i 1764003600123456789',
    );
  });

  it('writes an exponential histogram as count, sum, min and max', () => {
    const histogram: MetricData = {
      descriptor: { name: 'e', description: '', unit: '', valueType: ValueType.DOUBLE },
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: [
        {
          attributes: {},
          startTime: START,
          endTime: END,
          value: {
            count: 2,
            sum: 3,
            scale: 0,
            zeroCount: 0,
            positive: { offset: 0, bucketCounts: [2] },
            negative: { offset: 0, bucketCounts: [] },
          },
        },
      ],
    };
    expect(linesOf([histogram]).text()).toBe('e count=2i,sum=3 1764003600123456789');
  });
});
