import { describe, expect, it } from 'vitest';
import {
  binaryPayload,
  binaryTuples,
  CopyBinaryBuilder,
  isBinaryCopy,
  postgresMicros,
  tupleText,
} from './copy-binary.ts';
import { copyLines } from './copy-text.ts';
import { at, batchOf, histogramMetric, numberMetric } from './testdata/batches.ts';
import { PointFieldsCache, toCopyRows } from './rows.ts';

const options = { deviceIdAttributes: ['device_id'], resourceLabels: ['site'] };

describe('COPY binary form', () => {
  it('holds the same rows as COPY text, tuple by tuple, on every path', () => {
    const time = at('1999-12-31T23:59:59.999Z', 999);
    const batch = batchOf(
      [
        numberMetric('power', [
          { attributes: { device_id: 'node-1', rack: 'r1' }, value: 42.5, time },
          { attributes: { device_id: 'node-2', unicode: 'éà✓' }, value: 1 / 3, time },
          { attributes: {}, value: 7, time: at('2026-01-01T00:00:00Z', 1) },
        ]),
        histogramMetric('rpc.duration', { device_id: 'node-1' }, time, {
          buckets: { boundaries: [0.5], counts: [1, 2] },
          count: 3,
          sum: 2.25,
        }),
      ],
      { 'host.name': 'gw', site: 'lyon' },
    );
    const cache = new PointFieldsCache();
    const binary = toCopyRows(
      batch,
      { ...options, deviceIdAttributes: ['device_id', 'host.name'] },
      cache,
      new CopyBinaryBuilder(64),
    );
    const text = toCopyRows(batch, { ...options, deviceIdAttributes: ['device_id', 'host.name'] });
    expect(isBinaryCopy(binary.text)).toBe(true);
    expect(isBinaryCopy(text.text)).toBe(false);
    const tuples = binaryTuples(binary.text);
    expect(tuples).toHaveLength(text.rows);
    expect(binary.rows).toBe(text.rows);
    expect(tuples.map((t) => `${tupleText(t)}\n`)).toEqual(copyLines(text.text));
    // Cut into tuples and put together again, the payload is the same bytes.
    expect(binaryPayload(tuples)).toEqual(binary.text);
  });

  it('an empty batch is an empty payload; the builder starts over after each take', () => {
    const builder = new CopyBinaryBuilder(16);
    expect(builder.take()).toHaveLength(0);
    const batch = batchOf([
      numberMetric('m', [{ attributes: { device_id: 'n' }, value: -0, time: at('2020-01-01T00:00:00Z') }]),
    ]);
    const first = toCopyRows(batch, options, undefined, builder).text;
    const second = toCopyRows(batch, options, undefined, builder).text;
    expect(second).toEqual(first);
    expect(tupleText(binaryTuples(first)[0] ?? new Uint8Array(0))).toBe(
      '2020-01-01 00:00:00.000000+00\tn\tm\t0\t{}',
    );
    // Negative zero keeps its sign bit: the value's 8 bytes end the tuple's value field.
    expect(first.includes(Buffer.from([0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0]))).toBe(true);
  });

  it('times as microseconds since 2000-01-01 in an int64, either side of it and in years 1 and 9999', () => {
    const micros = (seconds: number, us: number): bigint => {
      const [high, low] = postgresMicros(seconds, us);
      return (BigInt(high) << 32n) + BigInt(low);
    };
    expect(micros(946_684_800, 0)).toBe(0n);
    expect(micros(946_684_799, 999_999)).toBe(-1n);
    expect(micros(946_684_800, 1)).toBe(1n);
    expect(micros(-62_135_596_800, 0)).toBe(-63_082_281_600_000_000n);
    expect(micros(253_402_300_799, 999_999)).toBe(252_455_615_999_999_999n);
  });

  it('a truncated payload is an error, not rows', () => {
    const builder = new CopyBinaryBuilder();
    const batch = batchOf([
      numberMetric('m', [{ attributes: { device_id: 'n' }, value: 1, time: at('2020-01-01T00:00:00Z') }]),
    ]);
    const payload = toCopyRows(batch, options, undefined, builder).text;
    expect(() => binaryTuples(payload.subarray(0, payload.length - 6))).toThrow();
  });
});
