import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { zodProblems } from '../../service/config.ts';
import { renderMetricTable, TABLE_END, TABLE_START } from '../../kit/metadata.ts';
import { poll } from '../../test/support/peers.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { wattmetreMetadata } from './metadata.ts';
import { parseFrame } from './parse/frame.ts';
import { parseMapping } from './parse/mapping.ts';
import { WattmetreReceiver } from './receiver.ts';
import { WattmetreState } from './state.ts';

const here = import.meta.dirname;
const fixture = (name: string): string => join(here, 'testdata', 'fixtures', name);
const GENERATOR = join(here, 'testdata', 'generator.ts');
const dir = mkdtempSync(join(tmpdir(), 'inframeter-wattmetre-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Row = { metric: string; attributes: Record<string, unknown>; value: number; time: number };
function rows(batches: readonly ResourceMetrics[]): Row[] {
  return batches.flatMap((b) =>
    b.scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) =>
        m.dataPoints.map((p) => ({
          metric: m.descriptor.name,
          attributes: { ...p.attributes },
          value: p.value as number,
          time: p.endTime[0] + p.endTime[1] / 1e9,
        })),
      ),
    ),
  );
}
const last = (r: Row[], metric: string, attributes: Record<string, unknown>): number | undefined =>
  r
    .filter((x) => x.metric === metric && Object.entries(attributes).every(([k, v]) => x.attributes[k] === v))
    .at(-1)?.value;

describe('parsing', () => {
  it('reads valid frames, empty ports, and says why a line is not a frame', () => {
    const lines = readFileSync(fixture('frames.txt'), 'utf8').trim().split('\n');
    expect(parseFrame(lines[0] ?? '')).toEqual({
      ok: true,
      frame: { time: 1795000000, watts: [100.5, 200, undefined] },
    });
    expect(parseFrame(lines[1] ?? '')).toEqual({
      ok: true,
      frame: { time: 1795000000.5, watts: [101.5, undefined, undefined] },
    });
    expect(parseFrame(lines[2] ?? '')).toEqual({ ok: false, reason: 'not_ok', detail: 'frame status "ERR"' });
    expect(parseFrame(lines[3] ?? '')).toEqual({
      ok: false,
      reason: 'malformed',
      detail: 'timestamp "17950x0001.000" is not a Unix time',
    });
    expect(parseFrame('a,b')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(parseFrame('w,1,1795000000,OK,12,abc')).toEqual({
      ok: false,
      reason: 'malformed',
      detail: 'port 1: "abc" is not a number',
    });
  });

  it("reads kwollect's mapping file", () => {
    expect([...parseMapping(readFileSync(fixture('mapping.yaml'), 'utf8'), 'mapping.yaml')]).toEqual([
      ['wattmetre1-port0', 'node-12'],
      ['wattmetre1-port1', 'node-12'],
      ['wattmetre1-port2', 'node-13'],
    ]);
    expect(() => parseMapping('a: [x-port1]\nb: [x-port1]\n', 'm.yaml')).toThrow(
      'm.yaml:1: x-port1 is mapped to both a and b',
    );
    expect(() => parseMapping('a: [port]\n', 'm.yaml')).toThrow(
      'expected a list of ports named <wattmetre>-port<N>',
    );
  });
});

describe('WattmetreState', () => {
  const resource = resourceFromAttributes({ 'host.name': 'gw' });
  const devices = parseMapping(readFileSync(fixture('mapping.yaml'), 'utf8'), 'mapping.yaml');

  it('keeps every sample with its time, integrates energy, counts invalid frames and gaps', () => {
    const state = new WattmetreState('wattmetre1', devices, () => 'full', 1, 1795000000);
    const outcomes = readFileSync(fixture('frames.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => state.line(l));
    expect(outcomes.map((o) => o.kind)).toEqual(['valid', 'valid', 'not_ok', 'malformed', 'valid']);
    expect(outcomes[4]).toEqual({ kind: 'valid', gap: 3 });
    const r = rows([state.drain(resource).batch]);
    expect(
      r
        .filter((x) => x.metric === 'hw.power')
        .map((x) => [x.attributes['hw.id'], x.attributes['device.id'], x.time, x.value]),
    ).toEqual([
      ['wattmetre1-port0', 'node-12', 1795000000, 100.5],
      ['wattmetre1-port0', 'node-12', 1795000000.5, 101.5],
      ['wattmetre1-port0', 'node-12', 1795000003.5, 102],
      ['wattmetre1-port1', 'node-12', 1795000000, 200],
      ['wattmetre1-port1', 'node-12', 1795000003.5, 210],
    ]);
    // 100.5 W for 0.5 s; nothing across the 3 s gap.
    expect(last(r, 'hw.energy', { 'hw.id': 'wattmetre1-port0' })).toBe(50.25);
    expect(last(r, 'hw.energy', { 'hw.id': 'wattmetre1-port1' })).toBe(0);
    expect(last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'valid' })).toBe(3);
    expect(last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'not_ok' })).toBe(1);
    expect(last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'malformed' })).toBe(1);
    expect(last(r, 'inframeter.wattmetre.gaps', {})).toBe(1);
    // Drained samples are not sent twice; energy stays cumulative.
    const again = rows([state.drain(resource).batch]);
    expect(again.filter((x) => x.metric === 'hw.power')).toEqual([]);
    expect(last(again, 'hw.energy', { 'hw.id': 'wattmetre1-port0' })).toBe(50.25);
  });

  it('mean mode: one point per second per port, stamped with the second', () => {
    const state = new WattmetreState(
      'wattmetre1',
      devices,
      (key) => (key === 'node-12' ? 'mean' : 'full'),
      1,
      1795000000,
    );
    for (let i = 0; i < 100; i++)
      state.line(`w,${String(i)},${(1795000000 + i / 50).toFixed(3)},OK,${String(i)},10,5`);
    const r = rows([state.drain(resource, true).batch]).filter((x) => x.metric === 'hw.power');
    const port0 = r.filter((x) => x.attributes['hw.id'] === 'wattmetre1-port0').map((x) => [x.time, x.value]);
    expect(port0).toEqual([
      [1795000000, 24.5],
      [1795000001, 74.5],
    ]);
    // node-13's port stays at full rate.
    expect(r.filter((x) => x.attributes['hw.id'] === 'wattmetre1-port2')).toHaveLength(100);
  });
});

describe('config', () => {
  it.each([
    ['bad-source.yaml', 'source: give exactly one of command, file, stdin: true'],
    ['bad-id.yaml', 'wattmetre_id: letters, digits, ., _ and - only'],
  ])('%s names the key', (file, message) => {
    const r = configSchema.safeParse(parseYaml(readFileSync(join(here, 'testdata', 'config', file), 'utf8')));
    expect(r.success).toBe(false);
    if (!r.success) expect(zodProblems(r.error, []).join('\n')).toContain(message);
  });

  it('README metric table is current (`npm run docs` rewrites it)', () => {
    const readme = readFileSync(join(here, 'README.md'), 'utf8');
    expect(readme).toContain(`${TABLE_START}\n${renderMetricTable(wattmetreMetadata)}\n${TABLE_END}`);
  });
});

function collector() {
  const batches: ResourceMetrics[] = [];
  return {
    batches,
    sink: {
      export(b: ResourceMetrics, cb: (r: { code: ExportResultCode }) => void) {
        batches.push(b);
        cb({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  };
}

describe('WattmetreReceiver with real processes', () => {
  it("fails to start, naming mapping_file, when the mapping is not kwollect's format", async () => {
    const mapping = join(dir, 'bad-mapping.yaml');
    writeFileSync(mapping, 'node-1: [port3]\n');
    const receiver = new WattmetreReceiver(
      createTestSettings('wattmetre', 'receiver'),
      configSchema.parse({ source: { stdin: true }, wattmetre_id: 'w', mapping_file: mapping }),
    );
    await expect(receiver.start(collector().sink)).rejects.toThrow(
      `mapping_file: ${mapping}:1: node-1: expected a list of ports named <wattmetre>-port<N>`,
    );
  });

  it('reads a command at 50 Hz, restarts it when it exits, and integrates the energy exactly', async () => {
    const { batches, sink } = collector();
    const config = configSchema.parse({
      source: { command: [process.execPath, GENERATOR, '50', '50', '1795000000'] },
      wattmetre_id: 'wattmetre1',
      mapping_file: fixture('mapping.yaml'),
      flush_interval: '100ms',
      restart_delay: '200ms',
    });
    const receiver = new WattmetreReceiver(createTestSettings('wattmetre', 'receiver'), config);
    await receiver.start(sink);
    await poll('the second run of the command', 30_000, () => {
      const r = rows(batches);
      return Promise.resolve(
        (last(r, 'inframeter.wattmetre.restarts', {}) ?? 0) >= 1 &&
          (last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'valid' }) ?? 0) >= 98
          ? true
          : undefined,
      );
    });
    await receiver.shutdown();
    const r = rows(batches);
    // Each run: 50 lines, frame 10 not OK, one garbage line.
    const valid = last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'valid' }) ?? 0;
    expect(valid % 49).toBe(0);
    expect(last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'not_ok' })).toBe((valid / 49) * 1);
    expect(last(r, 'inframeter.wattmetre.frames', { 'frame.status': 'malformed' })).toBe(valid / 49);
    const power0 = r.filter((x) => x.metric === 'hw.power' && x.attributes['hw.id'] === 'wattmetre1-port0');
    expect(power0).toHaveLength(valid);
    expect(new Set(power0.map((x) => x.value))).toEqual(new Set([100]));
    expect(power0[0]?.attributes).toEqual({
      'hw.id': 'wattmetre1-port0',
      'hw.type': 'power_supply',
      'device.id': 'node-12',
    });
    // Both runs share timestamps: the second run's first frame is before the first run's last,
    // so only the first run integrates: 100 W × 0.98 s (frames 0..49 at 50 Hz, one missing).
    // Timestamps near 1.8e9 s carry microseconds at best: the integral is exact to 1e-5 J.
    expect(last(r, 'hw.energy', { 'hw.id': 'wattmetre1-port0' })).toBeCloseTo(98, 5);
    expect(r.some((x) => x.attributes['hw.id'] === 'wattmetre1-port2' && x.metric === 'hw.power')).toBe(
      false,
    );
  });

  it('follows a file and a FIFO, and switches a device to per-second means at run time', async () => {
    const { batches, sink } = collector();
    const file = join(dir, 'frames.log');
    writeFileSync(file, '');
    const config = configSchema.parse({
      source: { file },
      wattmetre_id: 'wattmetre1',
      mapping_file: fixture('mapping.yaml'),
      flush_interval: '50ms',
      control_endpoint: '127.0.0.1:0',
    });
    const receiver = new WattmetreReceiver(createTestSettings('wattmetre', 'receiver'), config);
    await receiver.start(sink);
    const line = (i: number): string =>
      `w,${String(i)},${(1795000000 + i / 10).toFixed(3)},OK,${String(i)},,\n`;
    for (let i = 0; i < 10; i++) appendFileSync(file, line(i));
    await poll('10 samples', 30_000, () =>
      Promise.resolve(rows(batches).filter((x) => x.metric === 'hw.power').length >= 10 ? true : undefined),
    );
    const address = receiver.controlAddress;
    const res = await fetch(`http://127.0.0.1:${String(address?.port)}/devices/node-12/mode`, {
      method: 'PUT',
      body: 'mean',
    });
    expect(await res.json()).toEqual({ device: 'node-12', mode: 'mean' });
    expect(
      (
        await fetch(`http://127.0.0.1:${String(address?.port)}/devices/node-12/mode`, {
          method: 'PUT',
          body: 'sometimes',
        })
      ).status,
    ).toBe(400);
    for (let i = 10; i < 30; i++) appendFileSync(file, line(i));
    await poll('the means', 30_000, () =>
      Promise.resolve(rows(batches).filter((x) => x.metric === 'hw.power').length >= 11 ? true : undefined),
    );
    await receiver.shutdown();
    const power = rows(batches)
      .filter((x) => x.metric === 'hw.power')
      .map((x) => [x.time, x.value]);
    expect(power.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => [1795000000 + i / 10, i]));
    // Then one mean per second: 10..19 in second 1, 20..29 in second 2 (closed at shutdown).
    expect(power.slice(10)).toEqual([
      [1795000001, 14.5],
      [1795000002, 24.5],
    ]);

    const fifo = join(dir, 'frames.fifo');
    execFileSync('mkfifo', [fifo]);
    const fromFifo = collector();
    const viaFifo = new WattmetreReceiver(
      createTestSettings('wattmetre', 'receiver'),
      configSchema.parse({ source: { file: fifo }, wattmetre_id: 'w', flush_interval: '50ms' }),
    );
    await viaFifo.start(fromFifo.sink);
    // Two writers one after the other: the FIFO is reopened after the first closes it.
    // Written off the event loop: opening a FIFO for writing waits for its reader.
    await writeFile(fifo, line(0) + line(1));
    // The second writer comes once the receiver has seen the first one close the FIFO.
    await poll('the FIFO reopened', 30_000, () =>
      Promise.resolve(
        (last(rows(fromFifo.batches), 'inframeter.wattmetre.restarts', {}) ?? 0) >= 1 ? true : undefined,
      ),
    );
    await writeFile(fifo, line(2));
    await poll('3 samples through the FIFO', 30_000, () =>
      Promise.resolve(
        rows(fromFifo.batches).filter((x) => x.metric === 'hw.power').length >= 3 ? true : undefined,
      ),
    );
    await viaFifo.shutdown();
    expect(
      rows(fromFifo.batches)
        .filter((x) => x.metric === 'hw.power')
        .map((x) => x.value),
    ).toEqual([0, 1, 2]);
  });
});
