import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  CSV_COLUMNS,
  CSV_HEADER,
  CsvFormatter,
  toCellText,
  toCsvText,
  toIsoTimestamp,
  toRows,
  toSortedJson,
} from './rows.ts';
import type { CsvRow } from './rows.ts';
import { withInt64 } from '../../kit/int64.ts';
import { createKnownBatch, END, START } from './testdata/fixtures/known-batch.ts';

function rowsOf(metric: MetricData, attributes: Record<string, unknown> = { 'host.name': 'h' }): CsvRow[] {
  return toRows(
    {
      resource: resourceFromAttributes(attributes),
      scopeMetrics: [{ scope: { name: 's' }, metrics: [metric] }],
    },
    { includeResource: true },
  );
}

describe('rows', () => {
  it('has fixed columns in the documented order', () => {
    expect(CSV_HEADER).toBe('timestamp,host,metric,unit,type,value,attributes,resource,start_timestamp\n');
    expect(CSV_COLUMNS).toHaveLength(9);
  });

  it('writes times as ISO 8601 UTC, truncated to the millisecond', () => {
    expect(toIsoTimestamp(END)).toBe('2026-11-22T18:00:00.123Z');
    expect(toIsoTimestamp(START)).toBe('2026-11-22T17:00:00.000Z');
    expect(toIsoTimestamp([1, 999_999_999])).toBe('1970-01-01T00:00:01.999Z');
    expect(toIsoTimestamp([1e15, 0])).toBe('');
  });

  it('writes attributes as compact JSON with sorted keys', () => {
    expect(toSortedJson({})).toBe('{}');
    expect(toSortedJson({ b: 1, a: 'x', B: true, é: null, gone: undefined })).toBe(
      '{"B":true,"a":"x","b":1,"é":null}',
    );
    expect(toSortedJson({ 'host.name': 'h', zone: 'z' }, 'host.name')).toBe('{"zone":"z"}');
    expect(
      toSortedJson({
        list: [1, 'two', null],
        map: { z: 1, a: { y: 2, b: 3 } },
        bytes: new Uint8Array([0, 1, 255]),
        big: 12n,
        huge: 2n ** 64n,
        nan: Number.NaN,
        when: new Date(Date.UTC(2026, 0, 2)),
      }),
    ).toBe(
      '{"big":12,"bytes":"AAH/","huge":"18446744073709551616","list":[1,"two",null],"map":{"a":{"b":3,"y":2},"z":1},"nan":null,"when":"2026-01-02T00:00:00.000Z"}',
    );
    expect(toCellText('node "1"')).toBe('node "1"');
    expect(toCellText(undefined)).toBe('');
    expect(toCellText(['a', 'b'])).toBe('["a","b"]');
  });

  it('writes a delta sum with its start and a gauge without', () => {
    const descriptor = { name: 'm', description: '', unit: 'By', valueType: ValueType.INT };
    const sum = rowsOf({
      descriptor,
      aggregationTemporality: AggregationTemporality.DELTA,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: [{ startTime: START, endTime: END, attributes: {}, value: 1e21 }],
    });
    expect(sum).toEqual([
      [
        '2026-11-22T18:00:00.123Z',
        'h',
        'm',
        'By',
        'counter',
        '1e+21',
        '{}',
        '{}',
        '2026-11-22T17:00:00.000Z',
      ],
    ]);
    const gauge = rowsOf({
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: [{ startTime: START, endTime: END, attributes: {}, value: 0.1 + 0.2 }],
    });
    expect(gauge[0]?.[5]).toBe('0.30000000000000004');
    expect(gauge[0]?.[8]).toBe('');
  });

  it('writes an exact integer beyond 2^53 (kit/int64.ts) in full digits', () => {
    const descriptor = { name: 'm', description: '', unit: '', valueType: ValueType.INT };
    const values: [number, bigint][] = [
      [2 ** 53, 2n ** 53n + 1n],
      [-(2 ** 63), -(2n ** 63n)],
      [2 ** 63, 2n ** 63n - 1n],
    ];
    const rows = rowsOf({
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: values.map(([value, exact]) =>
        withInt64({ startTime: START, endTime: END, attributes: {}, value }, exact),
      ),
    });
    expect(rows.map((r) => r[5])).toEqual([
      '9007199254740993',
      '-9223372036854775808',
      '9223372036854775807',
    ]);
  });

  it('writes a histogram without sum, min and max as buckets and a count', () => {
    const rows = rowsOf({
      descriptor: { name: 'lat', description: '', unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          startTime: START,
          endTime: END,
          attributes: { le: 'overridden', a: '1' },
          value: { buckets: { boundaries: [1], counts: [2, 1] }, count: 3 },
        },
      ],
    });
    expect(rows.map((r) => [r[2], r[3], r[5], r[6]])).toEqual([
      ['lat.bucket', '1', '2', '{"a":"1","le":"1"}'],
      ['lat.bucket', '1', '3', '{"a":"1","le":"+Inf"}'],
      ['lat.count', '1', '3', '{"a":"1","le":"overridden"}'],
    ]);
  });

  it('quotes fields with commas, quotes, line feeds and carriage returns, and ends records with LF', () => {
    const row: CsvRow = ['t', 'a,b', 'say "x"', 'l\nf', 'c\rr', ' 1 ', '{}', '', ''];
    expect(toCsvText([row])).toBe('t,"a,b","say ""x""","l\nf","c\rr", 1 ,{},,\n');
    expect(toCsvText([])).toBe('');
  });
});

describe('CsvFormatter', () => {
  const reference = (batch: ResourceMetrics, includeResource = true): string =>
    toCsvText(toRows(batch, { includeResource }));
  const sum = (points: { attributes: Attributes; value: number; end?: HrTime }[]): ResourceMetrics => ({
    resource: resourceFromAttributes({ 'host.name': 'node,1', zone: 'z "1"' }),
    scopeMetrics: [
      {
        scope: { name: 's' },
        metrics: [
          {
            descriptor: { name: 'm,x', description: '', unit: '{a"b}', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: false,
            dataPoints: points.map((p) => ({
              startTime: START,
              endTime: p.end ?? END,
              attributes: p.attributes,
              value: p.value,
            })),
          },
        ],
      },
    ],
  });

  it('writes the same bytes as the rows, for every kind of metric and non-ASCII text', () => {
    const formatter = new CsvFormatter();
    for (const includeResource of [true, false]) {
      const batch = createKnownBatch();
      expect(formatter.encode(batch, { includeResource }).toString('utf8')).toBe(
        reference(batch, includeResource),
      );
    }
    expect(
      formatter.encode({ resource: resourceFromAttributes({}), scopeMetrics: [] }, { includeResource: true }),
    ).toHaveLength(0);
  });

  it('writes an exact integer beyond 2^53 in full digits, as the rows do', () => {
    const formatter = new CsvFormatter();
    const batch = sum([{ attributes: {}, value: 2 ** 63 }]);
    const metric = batch.scopeMetrics[0]!.metrics[0]!;
    const exact: ResourceMetrics = {
      ...batch,
      scopeMetrics: [
        {
          scope: { name: 's' },
          metrics: [
            {
              ...metric,
              dataPoints: (metric.dataPoints as DataPoint<number>[]).map((p) => withInt64(p, 2n ** 63n - 1n)),
            } as MetricData,
          ],
        },
      ],
    };
    const text = formatter.encode(exact, { includeResource: true }).toString('utf8');
    expect(text).toBe(reference(exact));
    expect(text).toContain(',9223372036854775807,');
  });

  it('writes attributes out of order, nested or odd as the general path does', () => {
    const formatter = new CsvFormatter();
    const batch = sum([
      { attributes: { b: '1', a: 2 }, value: 1 },
      { attributes: { '10': 'x', '9': 'y' }, value: 2 },
      { attributes: { a: [1, 'two'], b: { y: 1, x: 2 }, c: new Uint8Array([255]) }, value: 3 },
      { attributes: { a: undefined, b: null, c: Number.NaN, d: true, e: 'q"uote,' }, value: -0 },
      { attributes: {}, value: Number.POSITIVE_INFINITY, end: [1e15, 0] },
    ]);
    expect(formatter.encode(batch, { includeResource: true }).toString('utf8')).toBe(reference(batch));
  });

  it('remembers the text of a frozen attribute set across batches, and not of one that may change', () => {
    const formatter = new CsvFormatter();
    const frozen = Object.freeze({ cpu: '0' });
    const mutable: Attributes = { cpu: '1' };
    const first = sum([
      { attributes: frozen, value: 1 },
      { attributes: mutable, value: 2 },
    ]);
    expect(formatter.encode(first, { includeResource: true }).toString('utf8')).toBe(reference(first));
    mutable.cpu = '2';
    const second = sum([
      { attributes: frozen, value: 1 },
      { attributes: mutable, value: 2 },
    ]);
    const text = formatter.encode(second, { includeResource: true }).toString('utf8');
    expect(text).toBe(reference(second));
    expect(text).toContain('"{""cpu"":""2""}"');
  });

  it('writes the head of a metric kept across batches anew when its host, name, unit or type changes', () => {
    const formatter = new CsvFormatter();
    const batch = sum([{ attributes: {}, value: 1 }]);
    const metric = batch.scopeMetrics[0]!.metrics[0]! as MetricData & { isMonotonic: boolean };
    const descriptor = metric.descriptor as { name: string; unit: string };
    const encoded = (resource: ResourceMetrics['resource'] = batch.resource): string => {
      const next = { ...batch, resource };
      const text = formatter.encode(next, { includeResource: true }).toString('utf8');
      expect(text).toBe(reference(next));
      return text;
    };
    expect(encoded()).toContain('"node,1","m,x","{a""b}",updowncounter,1,');
    expect(encoded(resourceFromAttributes({ 'host.name': 'node2' }))).toContain('node2,"m,x"');
    descriptor.name = 'renamed';
    expect(encoded()).toContain(',renamed,');
    descriptor.unit = 'By';
    expect(encoded()).toContain(',renamed,By,updowncounter,');
    metric.isMonotonic = true;
    expect(encoded()).toContain(',renamed,By,counter,');
  });

  it('keeps no pool slab alive through the text it remembers across batches', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const formatter = new CsvFormatter();
    // Each batch has times of its own (remembered) and enough attribute text of its own (not
    // remembered) to fill more than one 64 KiB slab of Node's buffer pool.
    const batchOf = (serial: number): ResourceMetrics => {
      const end: HrTime = [END[0] + serial, 0];
      const frozen = Object.freeze({ serial: String(serial) });
      return sum([
        { attributes: frozen, value: 0, end },
        ...Array.from({ length: 800 }, (_, i) => ({
          attributes: { serial, point: i, pad: 'x'.repeat(100) },
          value: i,
          end,
        })),
      ]);
    };
    const kept: ResourceMetrics[] = [];
    const encodeSome = (from: number, count: number): void => {
      for (let serial = from; serial < from + count; serial++) {
        const batch = batchOf(serial);
        // The frozen sets stay alive, as the OTLP receiver's shared attribute sets do.
        kept.push(batch);
        formatter.encode(batch, { includeResource: true });
      }
    };
    // A full collection frees dead array buffers on a background thread, which lags on a busy
    // machine; the next collection first waits for that sweep, so two in a row count exactly.
    const liveArrayBuffers = (): number => {
      gc();
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    encodeSome(0, 10);
    const before = liveArrayBuffers();
    encodeSome(10, 300);
    const grown = liveArrayBuffers() - before;
    // 300 remembered times and 300 frozen cells: tens of kilobytes; one slab each would be
    // 300 × 64 KiB at least (18.75 MiB).
    expect(grown).toBeLessThan(4 << 20);
    expect(formatter.encode(batchOf(0), { includeResource: true }).toString('utf8')).toBe(
      reference(batchOf(0)),
    );
  });
});
