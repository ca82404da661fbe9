import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isValidName } from '../config.ts';
import { Results } from './api.ts';
import { renderSvg } from './plot.ts';
import { P2Quantile } from './quantile.ts';
import { scanCsv, splitRecord } from './reader.ts';
import { isoMs, summarize } from './summary.ts';

const SMALL = join(import.meta.dirname, '..', 'testdata', 'fixtures', 'small.csv');
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

describe('CSV reading', () => {
  it('splits quoted fields with commas, doubled quotes and empty fields', () => {
    expect(splitRecord('a,"b,c","say ""hi""",,')).toEqual(['a', 'b,c', 'say "hi"', '', '']);
    expect(splitRecord('x,"open')).toBeUndefined();
    expect(() => splitRecord('"a"b,c')).toThrow('unexpected text after a quoted field at column 4');
  });

  it('reads every record of the fixture, the one with a line break whole', async () => {
    const rows: string[][] = [];
    expect(await scanCsv(SMALL, (f) => rows.push([...f]))).toBe(10);
    expect(rows[9]?.[3]).toBe('{line\nbreak}');
    expect(rows[9]?.[6]).toBe('{"text":"comma, and \\"quotes\\""}');
  });

  it('names the line of a foreign header, a short row and a truncated end', async () => {
    const foreign = join(dir, 'foreign.csv');
    writeFileSync(foreign, 'a,b\n1,2\n');
    await expect(scanCsv(foreign, () => undefined)).rejects.toThrow(
      `${foreign}:1: not an inframeter CSV header`,
    );
    const text = readFileSync(SMALL, 'utf8');
    const short = join(dir, 'short.csv');
    writeFileSync(short, `${text.split('\n').slice(0, 3).join('\n')}\n2026-11-22T10:00:00.000Z,a,m\n`);
    await expect(scanCsv(short, () => undefined)).rejects.toThrow(`${short}:4: expected 9 fields, got 3`);
    const truncated = join(dir, 'truncated.csv');
    writeFileSync(truncated, text.slice(0, text.indexOf('break}')));
    await expect(scanCsv(truncated, () => undefined)).rejects.toThrow(
      `${truncated}:11: the file ends inside a quoted field (truncated)`,
    );
    await expect(summarize(truncated)).rejects.toThrow(
      `${truncated}:11: the file ends inside a quoted field (truncated)`,
    );
  });

  it('parses the fixed-width timestamps exactly', () => {
    expect(isoMs('2026-11-22T10:00:20.123Z,a', 0)).toBe(Date.parse('2026-11-22T10:00:20.123Z'));
    expect(isoMs('x,1999-01-02T03:04:05.006Z', 2)).toBe(Date.parse('1999-01-02T03:04:05.006Z'));
  });
});

describe('P² quantile', () => {
  it('is exact with five values or fewer', () => {
    const q = new P2Quantile(0.95);
    for (const v of [5, 1, 4, 2, 3]) q.add(v);
    expect(q.value()).toBeCloseTo(4.8, 10);
  });

  it('estimates the 95th percentile of 1..10000 in any order within 1 %', () => {
    const q = new P2Quantile(0.95);
    const values = Array.from({ length: 10_000 }, (_, i) => ((i * 7919) % 10_000) + 1);
    for (const v of values) q.add(v);
    expect(Math.abs(q.value() - 9500) / 9500).toBeLessThan(0.01);
  });
});

describe('summary', () => {
  it('gives exact statistics, counter rates across a reset', async () => {
    const rows = await summarize(SMALL);
    const cpuA = rows.find((r) => r.metric === 'system.cpu.time' && r.host === 'a');
    // 100 → 110 (+10), then a reset to 5 (+5): 15 over 20 s.
    expect(cpuA).toMatchObject({
      count: 3,
      min: 5,
      max: 110,
      mean: 215 / 3,
      rate: 0.75,
      first: '2026-11-22T10:00:00.000Z',
      last: '2026-11-22T10:00:20.000Z',
    });
    const cpuB = rows.find((r) => r.metric === 'system.cpu.time' && r.host === 'b');
    expect(cpuB).toMatchObject({ count: 3, mean: 70, rate: 2, p95: 88 });
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
});

describe('Results API', () => {
  it('lists hosts and metrics, gives series, rates, averages and windows', async () => {
    const r = await Results.load(SMALL);
    expect(r.hosts()).toEqual(['a', 'b']);
    expect(r.metrics()).toEqual(['note', 'system.cpu.time', 'system.memory.usage']);
    const [b] = r.series('system.cpu.time', { host: 'b', attributes: { 'cpu.mode': 'user' } });
    expect(b?.points.map((p) => p.v)).toEqual([50, 70, 90]);
    expect(
      Results.rate(b ?? { metric: '', host: '', unit: '', type: '', attributes: {}, points: [] }).points.map(
        (p) => p.v,
      ),
    ).toEqual([2, 2]);
    const [a] = r.series('system.cpu.time', { host: 'a' });
    expect(
      Results.rate(a ?? { metric: '', host: '', unit: '', type: '', attributes: {}, points: [] }).points.map(
        (p) => p.v,
      ),
    ).toEqual([1, 0.5]);
    expect(Results.average(r.series('system.cpu.time')).map((p) => p.v)).toEqual([75, 90, 47.5]);
    const from = Date.parse('2026-11-22T10:00:10Z');
    expect(r.series('system.memory.usage', { from }).flatMap((s) => s.points.map((p) => p.v))).toEqual([
      3000, 2000,
    ]);
    expect(r.perHost('system.cpu.time').map((s) => [s.host, s.points.length])).toEqual([
      ['a', 3],
      ['b', 3],
    ]);
  });

  it('plots one path per host with a legend', async () => {
    const r = await Results.load(SMALL);
    const svg = renderSvg(r.perHost('system.cpu.time'), { title: 'CPU <user>', unit: 's' });
    expect(svg.match(/<path d="M/g)?.length).toBe(2);
    expect(svg).toContain('CPU &#60;user&#62;');
    expect(svg).toContain('>a</text>');
    expect(renderSvg([], { title: 'x', unit: 'y' })).toContain('no data');
  });
});
