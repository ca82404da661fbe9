import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import pl from 'nodejs-polars';
import { afterAll, describe, expect, it } from 'vitest';
import { isValidName } from '../config.ts';
import { formatOf, mergeParts } from '../merge.ts';
import { Results } from './api.ts';
import type { Point } from './downsample.ts';
import { lttb } from './downsample.ts';
import { renderSvg } from './plot.ts';
import type { Line, LineSpec } from './series.ts';
import { chartLines, parseByteSize } from './series.ts';
import { openDatabase, sourceSql } from './source.ts';
import { EmptySelectionError, summarize } from './summary.ts';

const FIXTURES = join(import.meta.dirname, '..', 'testdata', 'fixtures');
/** The CSV exporter's format (no collector column): host stands in for the collector. */
const SMALL = join(FIXTURES, 'small.csv');
/** The results format: two collectors that share the host name `vm`. */
const SAME_HOST = join(FIXTURES, 'same-host.csv');
const dir = mkdtempSync(join(tmpdir(), 'inframeter-results-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('experiment names', () => {
  it.each([
    ['run-1', true],
    ['exp_2026.11.22', true],
    ['../x', false],
    ['a/b', false],
    ['..', false],
    ['.hidden', false],
    ['', false],
    ['x'.repeat(101), false],
  ])('%s → %s', (name, ok) => {
    expect(isValidName(name)).toBe(ok);
  });
});

describe('summary (DuckDB)', () => {
  it('gives exact statistics, counter rates across a reset, quoted fields whole', async () => {
    const rows = await summarize(SMALL, {}, { p95: true });
    const cpuA = rows.find((r) => r.metric === 'system.cpu.time' && r.host === 'a');
    // 100 → 110 (+10), then a reset to 5 (+5): 15 over 20 s.
    expect(cpuA).toMatchObject({
      collector: 'a',
      count: 3,
      min: 5,
      max: 110,
      mean: 215 / 3,
      rate: 0.75,
      first: '2026-11-22T10:00:00.000Z',
      last: '2026-11-22T10:00:20.000Z',
    });
    const cpuB = rows.find((r) => r.metric === 'system.cpu.time' && r.host === 'b');
    expect(cpuB).toMatchObject({ count: 3, mean: 70, rate: 2 });
    expect(cpuB?.p95).toBeGreaterThanOrEqual(70);
    expect(cpuB?.p95).toBeLessThanOrEqual(90);
    const memory = rows.find((r) => r.metric === 'system.memory.usage');
    expect(memory).toMatchObject({ count: 3, mean: 2000, min: 1000, max: 3000, type: 'updowncounter' });
    expect(memory?.rate).toBeUndefined();
    expect(rows.find((r) => r.metric === 'note')).toMatchObject({
      unit: '{line\nbreak}',
      attributes: '{"text":"comma, and \\"quotes\\""}',
    });
  });

  it('filters by metric, host, time window and attribute value', async () => {
    expect((await summarize(SMALL, { hosts: ['b'] })).map((r) => r.host)).toEqual(['b']);
    const windowed = await summarize(SMALL, {
      metrics: ['system.cpu.time'],
      hosts: ['a'],
      from: '2026-11-22T10:00:05Z',
      to: '2026-11-22T10:00:20Z',
    });
    expect(windowed.map((r) => [r.count, r.min])).toEqual([[2, 5]]);
    expect(
      (await summarize(SMALL, { attributes: { 'system.memory.state': 'used' } })).map((r) => r.metric),
    ).toEqual(['system.memory.usage']);
  });

  it('an unknown metric or host, or an empty selection, is an error listing what exists', async () => {
    await expect(summarize(SMALL, { metrics: ['system.cpu.tme'] })).rejects.toThrow(
      `${SMALL}: no metric system.cpu.tme; the metrics there: note, system.cpu.time, system.memory.usage`,
    );
    await expect(summarize(SMALL, { hosts: ['c'] })).rejects.toThrow('no host c; the hosts there: a, b');
    await expect(summarize(SMALL, { attributes: { 'cpu.mode': 'idle' } })).rejects.toThrow(
      EmptySelectionError,
    );
  });

  it('keeps two collectors that share a host name apart', async () => {
    const rows = await summarize(SAME_HOST, { metrics: ['system.cpu.time'] });
    expect(rows.map((r) => [r.host, r.collector, r.mean, r.rate])).toEqual([
      ['vm', '00000000000000aa', 215 / 3, 0.75],
      ['vm', '00000000000000bb', 70, 2],
    ]);
    const r = await Results.open(SAME_HOST);
    try {
      const { lines, unit } = await r.lines('system.cpu.time');
      expect(unit).toBe('s/s');
      expect(lines.map((l) => l.name)).toEqual(['vm (00000000000000aa)', 'vm (00000000000000bb)']);
      // Rates between consecutive points: 1 then 0.5 (the reset: 5 over 10 s); 2 and 2.
      expect(lines.map((l) => l.buckets.map((b) => b.v))).toEqual([
        [1, 0.5],
        [2, 2],
      ]);
    } finally {
      r.close();
    }
  });

  it('sums attribute sets per line: counters at bucket ends across a reset, gauges with their extremes', async () => {
    const base = Date.parse('2026-11-22T10:00:00Z');
    const at = (s: number): string => new Date(base + s * 1000).toISOString();
    const row = (
      s: number,
      host: string,
      metric: string,
      type: string,
      value: number,
      attrs: string,
    ): string =>
      `${at(s)},${host},${host}-id,${metric},W,${type},${String(value)},"${attrs.replaceAll('"', '""')}",{},`;
    const seconds = [0, 10, 20, 30];
    const series: [string, string, string, string, number[]][] = [
      // Sums 110, 130, 150, then 125: a reset of the sum.
      ['h1', 'system.cpu.time', 'counter', '{"cpu.mode":"user"}', [100, 110, 120, 125]],
      ['h1', 'system.cpu.time', 'counter', '{"cpu.mode":"system"}', [10, 20, 30, 0]],
      // Sums 150, 160, 120, 210.
      ['h1', 'hw.power', 'gauge', '{"psu":0}', [100, 120, 90, 200]],
      ['h1', 'hw.power', 'gauge', '{"psu":1}', [50, 40, 30, 10]],
      ['h2', 'hw.power', 'gauge', '{"psu":0}', [10, 20, 30, 40]],
      // Two sets in the file, one per line.
      ['h1', 'hw.host.power', 'gauge', '{"dev":"a"}', [5, 7, 3, 9]],
      ['h2', 'hw.host.power', 'gauge', '{"dev":"b"}', [1, 2, 3, 4]],
    ];
    const file = join(dir, 'sets.csv');
    writeFileSync(
      file,
      `timestamp,host,collector,metric,unit,type,value,attributes,resource,start_timestamp\n${seconds
        .flatMap((s, i) => series.map(([h, m, t, a, v]) => row(s, h, m, t, v[i] ?? 0, a)))
        .join('\n')}\n`,
    );
    const r = await Results.open(file);
    const buckets = async (metric: string): Promise<unknown[]> =>
      (await r.lines(metric, { buckets: 2 })).lines.map((l) => [l.host, l.buckets]);
    const gauge = (t: number, v: number, lo: number, tlo: number, hi: number, thi: number): object => ({
      t: base + t * 1000,
      v,
      lo,
      tlo: base + tlo * 1000,
      hi,
      thi: base + thi * 1000,
    });
    try {
      // Buckets [0, 10] and [20, 30]: (130 - 110) / 10 s, then the reset: 125 / 20 s.
      expect(await buckets('system.cpu.time')).toEqual([
        [
          'h1',
          [
            { t: base + 10_000, v: 2, lo: 2, tlo: base + 10_000, hi: 2, thi: base + 10_000 },
            { t: base + 30_000, v: 6.25, lo: 6.25, tlo: base + 30_000, hi: 6.25, thi: base + 30_000 },
          ],
        ],
      ]);
      expect(await buckets('hw.power')).toEqual([
        ['h1', [gauge(5, 155, 150, 0, 160, 10), gauge(25, 165, 120, 20, 210, 30)]],
        ['h2', [gauge(5, 15, 10, 0, 20, 10), gauge(25, 35, 30, 20, 40, 30)]],
      ]);
      expect(await buckets('hw.host.power')).toEqual([
        ['h1', [gauge(5, 6, 5, 0, 7, 10), gauge(25, 6, 3, 20, 9, 30)]],
        ['h2', [gauge(5, 1.5, 1, 0, 2, 10), gauge(25, 3.5, 3, 20, 4, 30)]],
      ]);
    } finally {
      r.close();
    }
    // The same counter in two passes (sums at the buckets' ends only), as for many timestamps.
    const db = await openDatabase();
    try {
      const lines = await chartLines(db.connection, sourceSql(file), {
        metric: 'system.cpu.time',
        where: 'TRUE',
        rate: true,
        buckets: 2,
        t0: base,
        t1: base + 30_000,
      });
      expect(lines.map((l) => l.buckets.map((b) => [b.t - base, b.v]))).toEqual([
        [
          [10_000, 2],
          [30_000, 6.25],
        ],
      ]);
    } finally {
      db.close();
    }
  });

  it('draws what a direct computation of the sums per line and bucket gives, in one pass or two', async () => {
    // Three collectors (two on one host), unsynchronized, each stamping its sets alike; a
    // counter and a gauge with three attribute sets each; a counter reset on one line.
    const base = Date.parse('2026-11-22T10:00:00Z');
    const lines = [
      { host: 'h1', collector: 'c1', offset: 0, step: 1000 },
      { host: 'h1', collector: 'c2', offset: 300, step: 1000 },
      { host: 'h2', collector: 'c3', offset: 700, step: 2000 },
    ];
    const sets = ['{"k":"a"}', '{"k":"b"}', '{"k":"c"}'];
    type Row = { t: number; host: string; collector: string; metric: string; attrs: string; value: number };
    const rows: Row[] = [];
    lines.forEach((l, li) => {
      sets.forEach((attrs, si) => {
        let counter = 1000 * (si + 1);
        for (let i = 0; i < 60; i++) {
          const t = base + l.offset + i * l.step;
          counter += ((i * 7 + si * 3 + li) % 11) + 0.25;
          if (li === 1 && si === 2 && i === 37) counter = 2;
          rows.push({ t, ...l, metric: 'c.total', attrs, value: counter });
          rows.push({
            t,
            ...l,
            metric: 'g.level',
            attrs,
            value: ((i * 13 + si * 5 + li * 17) % 23) + si / 8 + li / 64,
          });
        }
      });
    });
    const file = join(dir, 'direct.csv');
    writeFileSync(
      file,
      `timestamp,host,collector,metric,unit,type,value,attributes,resource,start_timestamp\n${rows
        .map(
          (r) =>
            `${new Date(r.t).toISOString()},${r.host},${r.collector},${r.metric},1,${r.metric === 'c.total' ? 'counter' : 'gauge'},${String(r.value)},"${r.attrs.replaceAll('"', '""')}",{},`,
        )
        .join('\n')}\n`,
    );
    const t0 = Math.min(...rows.map((r) => r.t));
    const t1 = Math.max(...rows.map((r) => r.t));
    const BUCKETS = 7;
    const bucketOf = (t: number): number =>
      Math.min(BUCKETS - 1, Math.floor(((t - t0) * BUCKETS) / (t1 - t0 + 1)));
    /** Per line, its sums per timestamp over the sets, by bucket: the definition, written out. */
    const sumsOf = (metric: string): Map<string, Map<number, [number, number][]>> => {
      const byLine = new Map<string, Map<number, number>>();
      for (const r of rows.filter((x) => x.metric === metric)) {
        const key = `${r.host}/${r.collector}`;
        const sums = byLine.get(key) ?? new Map<number, number>();
        sums.set(r.t, (sums.get(r.t) ?? 0) + r.value);
        byLine.set(key, sums);
      }
      const out = new Map<string, Map<number, [number, number][]>>();
      for (const [key, sums] of byLine) {
        const buckets = new Map<number, [number, number][]>();
        for (const [t, v] of [...sums].sort((a, b) => a[0] - b[0])) {
          const b = bucketOf(t);
          buckets.set(b, [...(buckets.get(b) ?? []), [t, v]]);
        }
        out.set(key, buckets);
      }
      return out;
    };
    const expectedRates = [...sumsOf('c.total')].map(([key, buckets]) => {
      const points: [number, number][] = [];
      let previous: [number, number] | undefined;
      for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
        const sums = buckets.get(b) ?? [];
        const first = sums[0];
        const last = sums[sums.length - 1];
        if (first === undefined || last === undefined) continue;
        const from = previous ?? first;
        const increase = last[1] >= from[1] ? last[1] - from[1] : last[1];
        if (last[0] > from[0]) points.push([last[0], (increase / (last[0] - from[0])) * 1000]);
        previous = last;
      }
      return [key, points];
    });
    const expectedGauges = [...sumsOf('g.level')].map(([key, buckets]) => [
      key,
      [...buckets.keys()]
        .sort((x, y) => x - y)
        .map((b) => {
          const sums = buckets.get(b) ?? [];
          const lo = sums.reduce((m, p) => (p[1] < m[1] ? p : m));
          const hi = sums.reduce((m, p) => (p[1] > m[1] ? p : m));
          const mean = (i: 0 | 1): number => sums.reduce((s, p) => s + p[i], 0) / sums.length;
          return [mean(0), mean(1), lo[1], lo[0], hi[1], hi[0]];
        }),
    ]);
    const close = (actual: unknown, expected: unknown): void => {
      expect(
        JSON.stringify(actual, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v)),
      ).toBe(
        JSON.stringify(expected, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v)),
      );
    };
    const db = await openDatabase();
    try {
      // timestamps 0: one pass grouping per line and timestamp; unknown: two passes for
      // counters. With fewer groups allowed than lines × timestamps: slices of buckets (7 of
      // one bucket each; 3 of 3, 3 and 1 buckets; 2 of 4 and 3; the lines × timestamps asked
      // of the rows or given), two passes for counters of unknown timestamps.
      const ways: Partial<LineSpec>[] = [
        { timestamps: 0 },
        {},
        { maxGroups: 20 },
        { maxGroups: 200 },
        { timestamps: 10, lines: 3, maxGroups: 20 },
        { timestamps: 28, lines: 3, maxGroups: 1 },
      ];
      for (const way of ways) {
        const draw = (metric: string, rate: boolean): Promise<Line[]> =>
          chartLines(db.connection, sourceSql(file), {
            metric,
            where: 'TRUE',
            rate,
            buckets: BUCKETS,
            t0,
            t1,
            ...way,
          });
        close(
          (await draw('c.total', true)).map((l) => [
            `${l.host}/${l.collector}`,
            l.buckets.map((b) => [b.t, b.v]),
          ]),
          expectedRates,
        );
        close(
          (await draw('g.level', false)).map((l) => [
            `${l.host}/${l.collector}`,
            l.buckets.map((b) => [b.t, b.v, b.lo, b.tlo, b.hi, b.thi]),
          ]),
          expectedGauges,
        );
      }
    } finally {
      db.close();
    }
  });

  it('gives a gauge in slices of buckets the lines and points of one query, in its order', async () => {
    // Host "a" has rows only in the second bucket: sliced, it is first seen after "b".
    const base = Date.parse('2026-11-22T10:00:00Z');
    const rows = [
      ...[0, 10, 20, 30].flatMap((s) => [
        [s, 'b', '{"psu":0}', s + 1],
        [s, 'b', '{"psu":1}', 2 * s],
      ]),
      ...[20, 30].flatMap((s) => [
        [s, 'a', '{"psu":0}', 3 * s],
        [s, 'a', '{"psu":1}', 5],
      ]),
    ] as [number, string, string, number][];
    const file = join(dir, 'slices.csv');
    writeFileSync(
      file,
      `timestamp,host,collector,metric,unit,type,value,attributes,resource,start_timestamp\n${rows
        .map(
          ([s, host, attrs, value]) =>
            `${new Date(base + s * 1000).toISOString()},${host},${host}-id,hw.power,W,gauge,${String(value)},"${attrs.replaceAll('"', '""')}",{},`,
        )
        .join('\n')}\n`,
    );
    const db = await openDatabase();
    try {
      const draw = (maxGroups?: number): Promise<Line[]> =>
        chartLines(db.connection, sourceSql(file), {
          metric: 'hw.power',
          where: 'TRUE',
          rate: false,
          buckets: 2,
          t0: base,
          t1: base + 30_000,
          ...(maxGroups === undefined ? {} : { maxGroups }),
        });
      const whole = await draw();
      expect(whole.map((l) => [l.host, l.buckets.map((b) => b.v)])).toEqual([
        ['a', [80]],
        ['b', [16, 76]],
      ]);
      expect(await draw(1)).toEqual(whole);
    } finally {
      db.close();
    }
  });

  it('reads the sizes DuckDB prints in bytes', () => {
    expect(parseByteSize('244.1 MiB')).toBeCloseTo(244.1 * 2 ** 20);
    expect(parseByteSize('2.7 GiB')).toBeCloseTo(2.7 * 2 ** 30);
    expect(parseByteSize('1.5 GB')).toBe(1.5e9);
    expect(parseByteSize('512 bytes')).toBe(512);
    expect(() => parseByteSize('lots')).toThrow('not a size: lots');
  });

  it('names the file and line of a foreign header, a short row and a truncated end', async () => {
    const foreign = join(dir, 'foreign.csv');
    writeFileSync(foreign, 'a,b\n1,2\n');
    await expect(summarize(foreign)).rejects.toThrow(`${foreign}:1: not an inframeter CSV header`);
    const text = readFileSync(SAME_HOST, 'utf8');
    const short = join(dir, 'short.csv');
    writeFileSync(short, `${text.split('\n').slice(0, 3).join('\n')}\n2026-11-22T10:00:00.000Z,a,m\n`);
    await expect(summarize(short)).rejects.toThrow(`${short}:4:`);
    const truncated = join(dir, 'truncated.csv');
    writeFileSync(truncated, text.slice(0, text.length - 20));
    await expect(summarize(truncated)).rejects.toThrow(
      `${truncated}: the last row has no line end (truncated file)`,
    );
  });
});

describe('Parquet and merging', () => {
  it('merges parts of both formats into Parquet that another reader reads, and back into CSV', async () => {
    const parquet = join(dir, 'merged.parquet');
    expect(await mergeParts([SMALL, SAME_HOST], parquet)).toBe(10 + 9);
    // hyparquet: an independent reader of the file DuckDB wrote.
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(parquet) })) as Record<
      string,
      unknown
    >[];
    expect(rows).toHaveLength(19);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'timestamp',
      'host',
      'collector',
      'metric',
      'unit',
      'type',
      'value',
      'attributes',
      'resource',
      'start_timestamp',
    ]);
    const vm = rows.filter((r) => r.host === 'vm' && r.metric === 'system.cpu.time');
    expect(new Set(vm.map((r) => r.collector))).toEqual(new Set(['00000000000000aa', '00000000000000bb']));
    expect(rows.find((r) => r.metric === 'note')?.unit).toBe('{line\nbreak}');
    // The same statistics from the Parquet file as from the CSV files.
    const fromParquet = await summarize(parquet, { metrics: ['system.cpu.time'], hosts: ['vm'] });
    const fromCsv = await summarize(SAME_HOST, { metrics: ['system.cpu.time'] });
    expect(fromParquet).toEqual(fromCsv);
    const csv = join(dir, 'merged.csv');
    expect(await mergeParts([parquet], csv)).toBe(19);
    expect(readFileSync(csv, 'utf8').split('\n')[1]).toMatch(
      /^2026-11-22T10:00:00\.000Z,(a|b|vm),[0-9a-z]+,system\./,
    );
    expect(await summarize(csv, { metrics: ['system.cpu.time'], hosts: ['vm'] })).toEqual(fromCsv);
  });

  it('writes Parquet that polars reads with its types, giving the same statistics', async () => {
    const parquet = join(dir, 'for-polars.parquet');
    expect(await mergeParts([SMALL, SAME_HOST], parquet)).toBe(19);
    // nodejs-polars: the Rust polars engine, a third reader of the file DuckDB wrote.
    const df = pl.readParquet(parquet);
    expect(df.height).toBe(19);
    expect(df.columns).toEqual([
      'timestamp',
      'host',
      'collector',
      'metric',
      'unit',
      'type',
      'value',
      'attributes',
      'resource',
      'start_timestamp',
    ]);
    // Microseconds without a time zone tag: UTC wall time, as DuckDB's TIMESTAMP.
    expect(String(df.getColumn('timestamp').dtype)).toBe('DataType(Datetime(us,))');
    expect(String(df.getColumn('value').dtype)).toBe('DataType(Float64)');
    const stats = df
      .filter(pl.col('metric').eq(pl.lit('system.cpu.time')))
      .groupBy(['host', 'collector'])
      .agg(
        pl.col('value').count().alias('n'),
        pl.col('value').mean().alias('mean'),
        pl.col('value').min().alias('min'),
        pl.col('value').max().alias('max'),
      )
      .sort(['host', 'collector'])
      .toRecords();
    expect(stats).toEqual([
      { host: 'a', collector: 'a', n: 3, mean: 215 / 3, min: 5, max: 110 },
      { host: 'b', collector: 'b', n: 3, mean: 70, min: 50, max: 90 },
      { host: 'vm', collector: '00000000000000aa', n: 3, mean: 215 / 3, min: 5, max: 110 },
      { host: 'vm', collector: '00000000000000bb', n: 3, mean: 70, min: 50, max: 90 },
    ]);
    const [times] = df
      .select(pl.col('timestamp').min().alias('t0'), pl.col('timestamp').max().alias('t1'))
      .toRecords();
    expect([times?.t0, times?.t1]).toEqual([
      new Date('2026-11-22T10:00:00.000Z'),
      new Date('2026-11-22T10:00:20.000Z'),
    ]);
    expect(
      df
        .filter(pl.col('metric').eq(pl.lit('note')))
        .getColumn('unit')
        .toArray(),
    ).toEqual(['{line\nbreak}']);
  });

  it('refuses an output that is neither .csv nor .parquet, and a damaged part, leaving nothing', async () => {
    expect(() => formatOf('x.xlsx')).toThrow('results are written as .csv or .parquet, not .xlsx');
    const bad = join(dir, 'bad.csv');
    writeFileSync(
      bad,
      `${readFileSync(SAME_HOST, 'utf8')}2026-11-22T10:00:30.000Z,vm,x,m,s,gauge,oops,{},{},\n`,
    );
    const out = join(dir, 'never.parquet');
    await expect(mergeParts([SAME_HOST, bad], out)).rejects.toThrow(bad);
    expect(() => readFileSync(out)).toThrow();
    expect(() => readFileSync(`${out}.tmp`)).toThrow();
  });
});

describe('downsampling (LTTB)', () => {
  it('keeps 150,000 points to the threshold with the first, last and the peaks', () => {
    const points: Point[] = Array.from({ length: 150_000 }, (_, i) => ({
      t: i * 1000,
      v: Math.sin(i / 500),
    }));
    const spike = points[77_777];
    if (spike !== undefined) spike.v = 50;
    const dip = points[120_001];
    if (dip !== undefined) dip.v = -40;
    const kept = lttb(points, 700);
    expect(kept).toHaveLength(700);
    expect(kept[0]).toBe(points[0]);
    expect(kept[699]).toBe(points[149_999]);
    expect(kept).toContain(spike);
    expect(kept).toContain(dip);
    expect(kept.every((p, i) => i === 0 || p.t > (kept[i - 1]?.t ?? -1))).toBe(true);
    expect(lttb(points.slice(0, 10), 700)).toHaveLength(10);
  });
});

describe('charts', () => {
  const line = (name: string, values: number[]): Line => ({
    host: name,
    collector: name,
    name,
    buckets: values.map((v, i) => ({ t: i * 1000, v, lo: v, tlo: i * 1000, hi: v, thi: i * 1000 })),
  });

  it('draws a line per host with a legend, units and time from the start', () => {
    const svg = renderSvg({
      title: 'CPU <user>',
      unit: 's/s',
      lines: [line('a', [1, 2, 3]), line('b', [3, 2, 1])],
      t0: 0,
      t1: 2000,
    });
    expect(svg.match(/<path d="M/g)?.length).toBe(2);
    expect(svg).toContain('CPU &#60;user&#62;');
    expect(svg).toMatch(/>a<title>a<\/title><\/text>/);
    expect(svg).toContain('>s/s</text>');
    expect(svg).toContain('time since start (s); start 1970-01-01T00:00:00.000Z');
    expect(renderSvg({ title: 'x', unit: 'y', lines: [], t0: 0, t1: 1 })).toContain('no data');
  });

  it('with many hosts: the band from lowest to highest, the mean, and the highest three named', () => {
    const lines = Array.from({ length: 40 }, (_, i) => line(`host-${String(i)}`, [i, i + 1, i]));
    const svg = renderSvg({ title: 'many', unit: 'W', lines, t0: 0, t1: 2000 });
    expect(svg).toContain('<polygon');
    expect(svg).toContain('mean of 40 hosts');
    expect(svg.match(/<path d="M/g)?.length).toBe(4);
    expect(svg).toContain('host-39 (highest)');
  });

  it('names the same highest hosts each run when their peaks differ only in the last bits of a sum', () => {
    // 0.1 + 0.2 and 0.3: equal lines summed in another order.
    const peaks = [0.1 + 0.2, 0.3, 0.3, 0.1 + 0.2, 0.3];
    const lines = Array.from({ length: 40 }, (_, i) =>
      line(`host-${String(i).padStart(2, '0')}`, [0, i < 35 ? 0.1 : (peaks[i - 35] ?? 0), 0]),
    );
    const named = (ls: Line[]): string[] => {
      const svg = renderSvg({ title: 'tie', unit: 'W', lines: ls, t0: 0, t1: 2000 });
      return [...new Set([...svg.matchAll(/>([\w-]+) \(highest\)</g)].map((m) => m[1] ?? ''))];
    };
    expect(named(lines)).toEqual(['host-35', 'host-36', 'host-37']);
    expect(named([...lines].reverse())).toEqual(['host-35', 'host-36', 'host-37']);
  });
});
