import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ValueType } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../kit/logger.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { CsvExporter } from './csv.ts';
import { waitUntil } from '../../test/support/wait.ts';

/**
 * The write queue's memory against `max_buffer_size` when the file cannot keep up: the file's
 * writes are held back by occupying every thread of libuv's pool (where Node runs file
 * writes) with opens of FIFOs that no one writes to, then let go.
 */

const BOUND = 4 << 20;
const POINTS_PER_BATCH = 200;
const T: HrTime = [Date.UTC(2026, 10, 22, 18, 0, 0) / 1000, 0];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-csv-bound-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A batch of short gauge rows (about 60 bytes each): one row per point. */
function shortRowsBatch(serial: number): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'h' }),
    scopeMetrics: [
      {
        scope: { name: 's' },
        metrics: [
          {
            descriptor: { name: 'g', description: '', unit: '1', valueType: ValueType.INT },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: Array.from({ length: POINTS_PER_BATCH }, (_, i) => ({
              startTime: T,
              endTime: T,
              attributes: {},
              value: serial * POINTS_PER_BATCH + i,
            })),
          },
        ],
      },
    ],
  };
}

/** Occupies every thread of libuv's pool until `release()`: file writes wait meanwhile. */
function stallFileWrites(): { release: () => Promise<void> } {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifoDir = mkdtempSync(join(dir, 'stall-'));
  const fifos = Array.from({ length: threads }, (_, i) => join(fifoDir, `${String(i)}.fifo`));
  execFileSync('mkfifo', fifos);
  // Opening a FIFO to read blocks its thread until a writer opens it.
  const readers = fifos.map((fifo) => open(fifo, 'r'));
  return {
    release: async () => {
      // Opened on this thread (the pool is busy); a write end that does not block with a reader waiting.
      const writers = fifos.map((fifo) => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      const handles: FileHandle[] = await Promise.all(readers);
      for (const fd of writers) closeSync(fd);
      await Promise.all(handles.map((handle) => handle.close()));
    },
  };
}

/**
 * The array buffers still referenced. A full collection frees dead ones on a background thread,
 * which lags on a busy machine; the next collection first waits for that sweep, so two in a row
 * leave only the live ones counted.
 */
function liveArrayBuffers(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

const waitFor = (condition: () => boolean, what: string): Promise<void> =>
  waitUntil(condition, what, { timeoutMs: 60_000 });

describe('csv exporter write queue', () => {
  it('keeps the memory it holds under max_buffer_size when the file cannot keep up, and drops the rest counted', async () => {
    const path = join(dir, 'metrics.csv');
    const logs: { level: number; msg: string }[] = [];
    const logger = createLogger('info', {
      write: (line: string) => logs.push(JSON.parse(line) as { level: number; msg: string }),
    });
    const settings = { ...createTestSettings('csv', 'exporter'), logger };
    const config = configSchema.parse({ path, flush_interval: 0, max_buffer_size: BOUND });
    const exporter = new CsvExporter(settings, config);
    await exporter.start();

    const results: ExportResult[] = [];
    let produced = 0;
    let serial = 0;
    const ROUNDS = 3;
    // More batches per round than the bound holds, several times over.
    const BATCHES_PER_ROUND = Math.ceil((4 * BOUND) / (POINTS_PER_BATCH * 60));
    for (let round = 0; round < ROUNDS; round++) {
      const stall = stallFileWrites();
      let release: Promise<void> | undefined;
      try {
        const before = liveArrayBuffers();
        let peakHeld = 0;
        for (let i = 0; i < BATCHES_PER_ROUND; i++) {
          exporter.export(shortRowsBatch(serial++), (result) => results.push(result));
          produced += POINTS_PER_BATCH;
          peakHeld = Math.max(peakHeld, exporter.bufferedBytes);
          // Batches arrive from timers and sockets, not in one synchronous loop.
          if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        // What the queue holds, not the dropped batches' garbage a lagging sweep has yet to free.
        const grown = liveArrayBuffers() - before;
        // The queue is full: what it reports is within one batch of the bound, never past it.
        expect(peakHeld).toBeLessThanOrEqual(BOUND);
        expect(peakHeld).toBeGreaterThan(BOUND - POINTS_PER_BATCH * 100);
        // And that is the memory it holds (a generous margin for the rest of the process).
        expect(grown).toBeLessThan(BOUND * 1.25 + (1 << 20));
      } finally {
        release = stall.release();
      }
      await release;
      await waitFor(() => exporter.bufferedBytes === 0, 'the queue to be written');
    }
    await exporter.shutdown();
    await waitFor(() => results.length === serial, 'every callback');

    const written = parse<Record<string, string>>(readFileSync(path, 'utf8'), { columns: true }).length;
    const succeeded = results.filter((r) => r.code === ExportResultCode.SUCCESS).length;
    const failed = results.filter((r) => r.code === ExportResultCode.FAILED);
    const dropped = settings.telemetry.counts.dropped.get('buffer_full') ?? 0;
    expect(written).toBe(succeeded * POINTS_PER_BATCH);
    expect(dropped).toBe(failed.length * POINTS_PER_BATCH);
    expect(written + dropped).toBe(produced);
    expect(dropped).toBeGreaterThan(0);
    for (const result of failed) expect(result.error?.message).toMatch(/^csv buffer full: /);
    // Each overflow is logged once at warn (pino level 40) (the queue drained in between: a new overflow).
    const warnings = logs.filter((record) => record.level === 40 && /csv buffer full/.test(record.msg));
    expect(warnings).toHaveLength(ROUNDS);
  });
});
