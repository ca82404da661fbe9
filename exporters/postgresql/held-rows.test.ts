import { describe, expect, it } from 'vitest';
import { CopyTextBuilder, copyLines } from './copy-text.ts';
import { HeldArraysPool, HeldRows, SeriesTable } from './held-rows.ts';
import { convertRows, PointFieldsCache, toCopyRows } from './rows.ts';
import { at, batchOf, histogramMetric, numberMetric } from './testdata/batches.ts';

const options = { deviceIdAttributes: ['device_id', 'host.name'], resourceLabels: [] };

/** Gauges of every row kind, a histogram and a point left out, at two times. */
function batch(i: number): ReturnType<typeof batchOf> {
  return batchOf(
    [
      numberMetric('power', [
        ...Array.from({ length: 40 }, (_, j) => ({
          attributes: { device_id: `node-${String(j)}`, rack: 'r\t1' },
          value: i * 100 + j / 8,
          time: at('2020-01-06T14:00:00Z', j < 20 ? 0 : 5),
        })),
        { attributes: { outlet: '3' }, value: 1e300, time: at('2020-01-06T14:00:01Z') },
        { attributes: { device_id: 'n' }, value: Number.NaN, time: at('2020-01-06T14:00:01Z') },
      ]),
      histogramMetric('rpc.duration', { device_id: 'node-0' }, at('2020-01-06T14:00:02Z'), {
        buckets: { boundaries: [0.5], counts: [1, i] },
        count: 1 + i,
        sum: 2.5,
      }),
    ],
    { 'host.name': 'gw' },
  );
}

describe('HeldRows', () => {
  it('writes the same COPY text as a direct conversion, at every send', () => {
    const pool = new HeldArraysPool();
    const series = new SeriesTable();
    const cache = new PointFieldsCache();
    const builder = new CopyTextBuilder(256);
    for (let i = 0; i < 3; i += 1) {
      const held = new HeldRows(series, pool, 43);
      const conversion = convertRows(batch(i), options, cache, held);
      expect([...conversion.rejected.values()]).toEqual([1]);
      const direct = copyLines(toCopyRows(batch(i), options).text);
      expect(held.rows).toBe(direct.length);
      expect(copyLines(held.writeTo(builder))).toEqual(direct);
      expect(copyLines(held.writeTo(builder))).toEqual(direct);
      // 16 bytes a row of the 43 it has room for, 3 distinct times, 4 histogram lines.
      expect(held.bytes).toBeGreaterThan(43 * 16 + 3 * 64 + 4 * 40);
      expect(held.bytes).toBeLessThan(43 * 16 + 3 * 64 + 4 * 120);
      held.release();
      held.release();
      expect(() => held.writeTo(builder)).toThrow(/after their release/);
    }
  });

  it('grows past the expected rows; its arrays go back to the pool and serve the next batch', () => {
    const pool = new HeldArraysPool();
    const series = new SeriesTable();
    const held = new HeldRows(series, pool, 1);
    const text = convertRows(batch(1), options, undefined, held);
    expect(text.rejected.size).toBe(1);
    expect(copyLines(held.writeTo(new CopyTextBuilder()))).toEqual(
      copyLines(toCopyRows(batch(1), options).text),
    );
    held.release();
    // Grown from 16 rows to 32 and 64 (the smaller arrays went back to the pool as it grew);
    // the 64 released come back for the next batch that needs more than 32.
    expect(pool.take(41).capacity).toBe(64);
  });
});
