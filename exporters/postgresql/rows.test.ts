import type { Attributes } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { CopyTextBuilder, copyLines } from './copy-text.ts';
import { escapeText, PointFieldsCache, toCopyRows as toCopyText } from './rows.ts';
import { at, batchOf, histogramMetric, numberMetric } from './testdata/batches.ts';

const options = { deviceIdAttributes: ['device_id', 'device.id', 'host.name'], resourceLabels: [] };
/** The conversion, its text cut into lines. */
function toCopyRows(
  ...args: Parameters<typeof toCopyText>
): ReturnType<typeof toCopyText> & { lines: string[] } {
  const rows = toCopyText(...args);
  expect(rows.rows).toBe(copyLines(rows.text).length);
  return { ...rows, lines: copyLines(rows.text) };
}

const T = at('2020-01-06T14:00:00.123Z', 456);

describe('toCopyRows', () => {
  it('writes a gauge point as one COPY line: time to the microsecond, device, name, value, labels', () => {
    const rows = toCopyRows(
      batchOf([
        numberMetric('pdu_power_watt', [
          { attributes: { device_id: 'node-1', outlet: '3' }, value: 42.5, time: T },
        ]),
      ]),
      options,
    );
    expect(rows.lines).toEqual([
      '2020-01-06 14:00:00.123456+00\tnode-1\tpdu_power_watt\t42.5\t{"outlet":"3"}\n',
    ]);
    expect(rows.rejected.size).toBe(0);
  });

  it('takes the device id from the first attribute present, point before resource', () => {
    const point = (attributes: Record<string, string>): string =>
      toCopyRows(
        batchOf([numberMetric('m', [{ attributes, value: 1, time: T }])], { 'host.name': 'gw' }),
        options,
      ).lines[0]?.split('\t')[1] ?? '';
    expect(point({ 'device.id': 'node-2' })).toBe('node-2');
    expect(point({ device_id: 'node-3', 'device.id': 'node-2' })).toBe('node-3');
    expect(point({})).toBe('gw');
  });

  it('copies the chosen resource attributes into labels, the point winning', () => {
    const rows = toCopyRows(
      batchOf([numberMetric('m', [{ attributes: { device_id: 'n', rack: 'a' }, value: 1, time: T }])], {
        site: 'lyon',
        rack: 'z',
      }),
      { ...options, resourceLabels: ['site', 'rack'] },
    );
    expect(JSON.parse(rows.lines[0]?.split('\t')[4] ?? '')).toEqual({ site: 'lyon', rack: 'a' });
  });

  it('escapes tabs, newlines and backslashes for COPY', () => {
    expect(escapeText('a\tb\nc\\d\re')).toBe('a\\tb\\nc\\\\d\\re');
    const rows = toCopyRows(
      batchOf([
        numberMetric('m', [{ attributes: { device_id: 'dev\t1', note: 'x\\y\n' }, value: 1, time: T }]),
      ]),
      options,
    );
    expect(rows.lines[0]).toBe('2020-01-06 14:00:00.123456+00\tdev\\t1\tm\t1\t{"note":"x\\\\\\\\y\\\\n"}\n');
  });

  it('leaves out and counts points it cannot store; the rest goes on', () => {
    const rows = toCopyRows(
      batchOf([
        numberMetric('m', [
          { attributes: {}, value: 1, time: T },
          { attributes: { device_id: 'n' }, value: Number.NaN, time: T },
          { attributes: { device_id: 'n' }, value: Infinity, time: T },
          { attributes: { device_id: 'n', bad: 'a\u0000b' }, value: 1, time: T },
          { attributes: { device_id: 'n', fine: 'a\\u0000b' }, value: 2, time: T },
          { attributes: { device_id: 'n' }, value: 3, time: [253_402_300_800, 0] },
        ]),
      ]),
      options,
    );
    expect(rows.lines).toHaveLength(1);
    expect(rows.lines[0]).toContain('\t2\t');
    expect(Object.fromEntries(rows.rejected)).toEqual({
      'no device id attribute': 1,
      'value not finite': 2,
      'NUL character (PostgreSQL text cannot hold it)': 1,
      'timestamp outside years 1-9999': 1,
    });
  });

  it('flattens a histogram as Prometheus does: cumulative _bucket with le, _count, _sum, _min, _max', () => {
    const rows = toCopyRows(
      batchOf([
        histogramMetric('rpc.duration', { device_id: 'n', op: 'get' }, T, {
          buckets: { boundaries: [0.1, 1], counts: [2, 3, 1] },
          count: 6,
          sum: 3.5,
          min: 0.05,
          max: 4,
        }),
      ]),
      options,
    );
    expect(rows.lines.map((l) => l.split('\t').slice(2).join('\t'))).toEqual([
      'rpc.duration_bucket\t2\t{"op":"get","le":"0.1"}\n',
      'rpc.duration_bucket\t5\t{"op":"get","le":"1"}\n',
      'rpc.duration_bucket\t6\t{"op":"get","le":"+Inf"}\n',
      'rpc.duration_count\t6\t{"op":"get"}\n',
      'rpc.duration_sum\t3.5\t{"op":"get"}\n',
      'rpc.duration_min\t0.05\t{"op":"get"}\n',
      'rpc.duration_max\t4\t{"op":"get"}\n',
    ]);
  });
});

describe('toCopyRows with a cache of point fields', () => {
  it('gives the same lines as without, across batches and resources', () => {
    const attributes = { device_id: 'node-1', rack: 'r\t1' };
    const shared = { rack: 'r2' };
    const batches = [
      batchOf([numberMetric('a', [{ attributes, value: 1, time: T }])], { site: 'lyon' }),
      batchOf([numberMetric('b', [{ attributes, value: 2, time: T }])], { site: 'nancy' }),
      batchOf([numberMetric('c', [{ attributes: shared, value: 3, time: T }])], {
        'host.name': 'gw-1',
        site: 'x',
      }),
      batchOf([numberMetric('d', [{ attributes: shared, value: 4, time: T }])], { 'host.name': 'gw-2' }),
    ];
    const withSite = { ...options, resourceLabels: ['site'] };
    const cache = new PointFieldsCache();
    for (const batch of [...batches, ...batches]) {
      expect(toCopyRows(batch, withSite, cache).lines).toEqual(toCopyRows(batch, withSite).lines);
    }
    expect(toCopyRows(batches[1] ?? batches[0]!, withSite, cache).lines[0]).toBe(
      '2020-01-06 14:00:00.123456+00\tnode-1\tb\t2\t{"rack":"r\\\\t1","site":"nancy"}\n',
    );
    expect(toCopyRows(batches[3] ?? batches[0]!, withSite, cache).lines[0]?.split('\t')[1]).toBe('gw-2');
  });

  it('tells series apart by content when each point brings a new attributes object', () => {
    const cache = new PointFieldsCache();
    const labels = (attributes: Record<string, unknown>): string =>
      toCopyRows(
        batchOf([numberMetric('m', [{ attributes: { ...attributes }, value: 1, time: T }])]),
        options,
        cache,
      ).lines[0]?.split('\t')[4] ?? '';
    for (let round = 0; round < 2; round += 1) {
      expect(labels({ device_id: 'n', k: '1' })).toBe('{"k":"1"}\n');
      expect(labels({ device_id: 'n', k: 1 })).toBe('{"k":1}\n');
      expect(labels({ device_id: 'n', k: '1s1:x' })).toBe('{"k":"1s1:x"}\n');
      expect(labels({ device_id: 'n', k: '1', '1:x': '' })).toBe('{"k":"1","1:x":""}\n');
      expect(labels({ device_id: 'n', k: ['1'] })).toBe('{"k":["1"]}\n');
      expect(labels({ device_id: 'n', k: '["1"]' })).toBe('{"k":"[\\\\"1\\\\"]"}\n');
      expect(labels({ device_id: 'n', k: true })).toBe('{"k":true}\n');
      expect(labels({ device_id: 'n', k: 'true' })).toBe('{"k":"true"}\n');
      expect(labels({ k: '1', device_id: 'n' })).toBe('{"k":"1"}\n');
      expect(labels({ device_id: 'n', k: undefined, j: 2 })).toBe('{"j":2}\n');
      expect(labels({ device_id: 'n', j: 2 })).toBe('{"j":2}\n');
    }
  });
});

describe('toCopyRows on the common row path', () => {
  it('writes times, devices, names, values and labels exactly, whatever the metric sharing content', () => {
    // Two metrics whose points have attributes of equal content but their own objects, as
    // each instrument of a producer holds them; the second batch finds both by object.
    const cache = new PointFieldsCache();
    const perMetric = ['a', 'b'].map((name) => ({ name, attributes: { device_id: 'nöde', rack: 'é' } }));
    const time = at('2020-01-06T14:00:00Z', 7);
    for (let round = 0; round < 2; round += 1) {
      const rows = toCopyRows(
        batchOf(
          perMetric.map(({ name, attributes }) =>
            numberMetric(name, [
              { attributes, value: -0.000125, time },
              { attributes, value: 1e21, time: [time[0], 999_999_999] },
            ]),
          ),
        ),
        options,
        cache,
      );
      expect(rows.lines).toEqual([
        '2020-01-06 14:00:00.000007+00\tnöde\ta\t-0.000125\t{"rack":"é"}\n',
        '2020-01-06 14:00:00.999999+00\tnöde\ta\t1e+21\t{"rack":"é"}\n',
        '2020-01-06 14:00:00.000007+00\tnöde\tb\t-0.000125\t{"rack":"é"}\n',
        '2020-01-06 14:00:00.999999+00\tnöde\tb\t1e+21\t{"rack":"é"}\n',
      ]);
    }
  });

  it('writes the same rows for a series whose objects are new at every batch, past the objects it enters', () => {
    const cache = new PointFieldsCache();
    for (let round = 0; round < PointFieldsCache.MAX_OBJECTS_PER_SERIES + 10; round += 1) {
      const rows = toCopyRows(
        batchOf([numberMetric('m', [{ attributes: { device_id: 'n', k: 'v' }, value: round, time: T }])]),
        options,
        cache,
      );
      expect(rows.lines).toEqual([`2020-01-06 14:00:00.123456+00\tn\tm\t${String(round)}\t{"k":"v"}\n`]);
    }
  });

  it('writes the same rows when the series of a metric change places, number or objects between batches', () => {
    const cache = new PointFieldsCache();
    const series = (device: string): Record<string, string> => ({ device_id: device, rack: `r-${device}` });
    const [a, b, c] = [series('n1'), series('n2'), series('n3')];
    const orders = [
      [a, b, c],
      [a, b, c],
      [c, a, b],
      [b],
      [a, b, c],
      [{ ...a }, b, { device_id: 'n3', rack: 'x' }],
    ];
    for (const [round, order] of orders.entries()) {
      const batch = batchOf([
        numberMetric(
          'm',
          order.map((attributes, i) => ({ attributes, value: round * 10 + i, time: T })),
        ),
      ]);
      const rows = toCopyRows(batch, options, cache).lines;
      expect(rows).toEqual(toCopyRows(batch, options).lines);
      expect(rows).toEqual(
        order.map(
          (attributes, i) =>
            `2020-01-06 14:00:00.123456+00\t${attributes.device_id ?? ''}\tm\t${String(round * 10 + i)}\t{"rack":"${attributes.rack ?? ''}"}\n`,
        ),
      );
    }
  });

  it('writes the same rows for new objects at the same places, whatever changes in their content or order', () => {
    const cache = new PointFieldsCache();
    const rounds: Attributes[][] = [
      [
        { device_id: 'n1', k: 'a' },
        { device_id: 'n2', k: 'b' },
      ],
      [
        { device_id: 'n1', k: 'a' },
        { device_id: 'n2', k: 'b' },
      ],
      [
        { k: 'a', device_id: 'n1' },
        { device_id: 'n2', k: 'c' },
      ],
      [{ device_id: 'n1', k: 'a', j: 1 }, { device_id: 'n2' }],
      [
        { device_id: 'n1', k: ['a'] },
        { device_id: 'n2', k: ['a'] },
      ],
      [
        { device_id: 'n1', k: ['b'] },
        { device_id: 'n2', k: undefined },
      ],
      [
        { device_id: 'n1', k: '1' },
        { device_id: 'n2', k: 1 },
      ],
      [
        { device_id: 'n1', k: 1 },
        { device_id: 'n2', k: '1' },
      ],
    ];
    for (const attributes of rounds) {
      const batch = batchOf([
        numberMetric(
          'm',
          attributes.map((a, i) => ({ attributes: { ...a }, value: i, time: T })),
        ),
      ]);
      expect(toCopyRows(batch, options, cache).lines).toEqual(toCopyRows(batch, options).lines);
    }
  });

  it('writes the time of each point when seconds or microseconds change from point to point', () => {
    const attributes = { device_id: 'n' };
    const second = at('2020-01-06T14:00:00Z')[0];
    const times: [number, number][] = [
      [second, 5_000],
      [second + 1, 5_000],
      [second + 1, 5_999],
      [second + 1, 6_000],
      [second, 6_000],
      [second, 999_999_999],
      [second + 2, 0],
      // Nanoseconds outside 0–999,999,999 are carried into the seconds.
      [second, 1_500_000_000],
      [second + 3, -1_000],
    ];
    const rows = toCopyRows(
      batchOf([
        numberMetric(
          'm',
          times.map((time, i) => ({ attributes, value: i, time })),
        ),
      ]),
      options,
      new PointFieldsCache(),
    );
    expect(rows.lines.map((line) => line.split('\t')[0])).toEqual([
      '2020-01-06 14:00:00.000005+00',
      '2020-01-06 14:00:01.000005+00',
      '2020-01-06 14:00:01.000005+00',
      '2020-01-06 14:00:01.000006+00',
      '2020-01-06 14:00:00.000006+00',
      '2020-01-06 14:00:00.999999+00',
      '2020-01-06 14:00:02.000000+00',
      '2020-01-06 14:00:01.500000+00',
      '2020-01-06 14:00:02.999999+00',
    ]);
  });

  it('hands a filled buffer over, and takes it back once written', () => {
    // Room for one row (with the most a value may take), which fills more than half of it.
    const builder = new CopyTextBuilder(80);
    const batch = batchOf([
      numberMetric('m', [{ attributes: { device_id: 'node-1' }, value: 42.5, time: T }]),
    ]);
    const first = toCopyRows(batch, options, undefined, builder).text;
    const line = '2020-01-06 14:00:00.123456+00\tnode-1\tm\t42.5\t{}\n';
    expect(copyLines(first)).toEqual([line]);
    // The next batch is written elsewhere: the first text stays as it was.
    const second = toCopyRows(batch, options, undefined, builder).text;
    const sameMemory = (a: Uint8Array, b: Uint8Array): boolean =>
      a.buffer === b.buffer && a.byteOffset === b.byteOffset;
    expect(sameMemory(second, first)).toBe(false);
    expect(copyLines(first)).toEqual([line]);
    builder.recycle(first);
    builder.recycle(first);
    builder.recycle(Buffer.from(line));
    // The builder is filling a third buffer; the one after it is the first, given back.
    const third = toCopyRows(batch, options, undefined, builder).text;
    const fourth = toCopyRows(batch, options, undefined, builder).text;
    expect(sameMemory(third, first)).toBe(false);
    expect(sameMemory(fourth, first)).toBe(true);
    expect([...copyLines(second), ...copyLines(third), ...copyLines(fourth)]).toEqual([line, line, line]);
  });
});
