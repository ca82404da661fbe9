import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../kit/logger.ts';
import { poll } from '../../test/support/peers.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { LineSplitter } from './parse/lines.ts';
import { WattmetreReceiver } from './receiver.ts';

/** A full garbage collection, so that the heap holds only what is still referenced. */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

const dir = mkdtempSync(join(tmpdir(), 'inframeter-wattmetre-bad-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('line splitter', () => {
  it('splits across pieces, drops a line past the bound up to its newline, and goes on', () => {
    const lines: string[] = [];
    const oversized: number[] = [];
    const split = new LineSplitter(
      10,
      (l) => lines.push(l),
      (n) => oversized.push(n),
    );
    split.push('ab');
    split.push('c\r\nde\n\n');
    split.push('0123456');
    split.push('789abcdef');
    split.push('ghi\nok\nlast');
    split.end();
    expect(lines).toEqual(['abc', 'de', 'ok', 'last']);
    expect(oversized).toEqual([16]);
  });
});

/** Log lines (JSON) written by a receiver, by level. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

/**
 * Keeps the latest `inframeter.wattmetre.frames` count of each frame status a batch carries:
 * a few numbers, not the batches, so that the heap measured below does not grow with the number
 * of batches a busy machine takes to get there.
 */
function keepFrameCounts(frames: Map<string, number>, batch: ResourceMetrics): void {
  for (const s of batch.scopeMetrics)
    for (const m of s.metrics)
      if (m.descriptor.name === 'inframeter.wattmetre.frames')
        for (const p of m.dataPoints) frames.set(String(p.attributes['frame.status']), p.value as number);
}

describe('wattmetre receiver fed garbage', () => {
  it('logs each kind of bad line once, without a stack; a 20 MiB line without newline is dropped, not kept', async () => {
    const file = join(dir, 'frames.log');
    writeFileSync(file, '');
    const { logger, lines } = capture();
    const settings = { ...createTestSettings('wattmetre', 'receiver'), logger };
    const frames = new Map<string, number>();
    const receiver = new WattmetreReceiver(
      settings,
      configSchema.parse({ source: { file }, wattmetre_id: 'w', flush_interval: '50ms' }),
    );
    await receiver.start({
      export(batch, done) {
        keepFrameCounts(frames, batch);
        done({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    // 2,050 distinct bad lines: 1,025 malformed, 1,025 flagged by the meter.
    const bad: string[] = [];
    for (let i = 0; i < 1025; i++) {
      bad.push(`garbage ${String(i)} ${'#'.repeat(i % 7)}`);
      bad.push(`w,${String(i)},${String(1795000000 + i)},CRC${String(i)},1,2`);
    }
    appendFileSync(file, `${bad.join('\n')}\n`);
    await poll('bad lines counted', 30_000, () =>
      Promise.resolve(frames.get('not_ok') === 1025 && frames.get('malformed') === 1025 ? true : undefined),
    );
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    // 20 MiB without a newline, in 1 MiB writes: dropped as soon as it passes the bound
    // (counted then), never held whole.
    const chunk = 'x'.repeat(1 << 20);
    for (let i = 0; i < 20; i++) appendFileSync(file, chunk);
    await poll('the long line counted', 30_000, () =>
      Promise.resolve(frames.get('oversized') === 1 ? true : undefined),
    );
    // Then the frame after it is read.
    appendFileSync(file, '\nw,1,1795001000.000,OK,42\n');
    await poll('the frame after the long line', 30_000, () =>
      Promise.resolve(frames.get('valid') === 1 ? true : undefined),
    );
    collectGarbage();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(8 * 1024 * 1024);
    expect(frames.get('oversized')).toBe(1);
    await receiver.shutdown();
    const warnings = lines.filter((l) => l.level === 40);
    // One line per kind: malformed, not_ok, oversized; none with a stack.
    expect(warnings.map((w) => w.kind).sort()).toEqual(['malformed', 'not_ok', 'oversized']);
    for (const w of warnings) expect(JSON.stringify(w)).not.toContain('stack');
    expect(lines.length).toBeLessThan(10);
  });
});
