import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createTestSettings } from '../../test/support/settings.ts';
import { deliveryOptions, parseByteSize } from './config.ts';
import type { DeliveryConfig } from './config.ts';
import type { DeferredPayload, SendRequest, SendResult } from './delivery.ts';
import { DEFAULT_MAX_ELAPSED_MS, Delivery } from './delivery.ts';
import { decodeBatches } from '../otlp/decode.ts';
import { FileStore } from './file-store.ts';
import { backoffDelay, ExportFailure, httpFailure, parseRetryAfter } from './retry.ts';
import { waitUntil } from '../../test/support/wait.ts';

const schema = z.strictObject(deliveryOptions);

class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function config(overrides: { sending_queue?: object; retry_on_failure?: object } = {}): DeliveryConfig {
  return schema.parse({
    sending_queue: overrides.sending_queue ?? {},
    retry_on_failure: { initial_interval: '5ms', max_interval: '20ms', ...overrides.retry_on_failure },
  });
}

/** A batch with `points` gauge points whose values are `id * 1000 + i`, to check order. */
function batch(id: number, points = 1): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'h' }),
    scopeMetrics: [
      {
        scope: { name: 'test' },
        metrics: [
          {
            descriptor: { name: 'g', description: '', unit: '1', valueType: ValueType.INT },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: Array.from({ length: points }, (_, i) => ({
              startTime: [1, 0] as [number, number],
              endTime: [2, 0] as [number, number],
              attributes: { i },
              value: id * 1000 + i,
            })),
          },
        ],
      },
    ],
  };
}

function firstValue(request: SendRequest): number {
  return request.batch().scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as number;
}

function exportBatch(delivery: Delivery, b: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    delivery.export(b, resolve);
  });
}

/** A sender answering from a script of outcomes, recording the first value of each batch. */
function scriptedSender(outcomes: SendResult[]): {
  send: (r: SendRequest) => Promise<SendResult>;
  seen: number[];
  times: number[];
} {
  const seen: number[] = [];
  const times: number[] = [];
  return {
    seen,
    times,
    send: (request) => {
      seen.push(firstValue(request));
      times.push(performance.now());
      return Promise.resolve(outcomes.shift() ?? { ok: true });
    },
  };
}

const unavailable = (): SendResult => ({
  ok: false,
  error: new ExportFailure('HTTP 503', { retryable: true }),
});

const waitFor = (condition: () => boolean): Promise<void> => waitUntil(condition, 'the delivery event');

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'inframeter-queue-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('delivery config', () => {
  it('fills the Collector defaults', () => {
    const parsed = schema.parse({});
    expect(parsed.sending_queue).toEqual({
      enabled: true,
      num_consumers: 1,
      queue_size: 1_000_000,
      max_bytes: 256 * 1024 * 1024,
      storage: 'memory',
    });
    expect(parsed.retry_on_failure).toEqual({
      enabled: true,
      initial_interval: 5_000,
      max_interval: 30_000,
      // max_elapsed_time unset: 5m for a memory queue, never for a persistent one.
      multiplier: 1.5,
      randomization_factor: 0.5,
    });
  });

  it('reports every problem with its path', () => {
    const result = schema.safeParse({
      sending_queue: { storage: 'file', max_bytes: '12 parsecs', queue_sise: 3 },
      retry_on_failure: { initial_interval: '1m', max_interval: '10s' },
    });
    expect(result.success).toBe(false);
    const problems = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'sending_queue: Unrecognized key: "queue_sise"',
        'sending_queue.max_bytes: expected a size such as "64MiB" or a number of bytes, got "12 parsecs"',
        'retry_on_failure.initial_interval: must not be longer than max_interval',
      ]),
    );
    expect(schema.safeParse({ sending_queue: { storage: 'file' } }).error!.issues[0]).toMatchObject({
      path: ['sending_queue', 'directory'],
      message: 'required when storage is file',
    });
  });

  it('parses sizes', () => {
    expect(parseByteSize('4MiB')).toBe(4 * 1024 * 1024);
    expect(parseByteSize('1.5 KB')).toBe(1500);
    expect(parseByteSize('12')).toBe(12);
    expect(parseByteSize('4 furlongs')).toBeUndefined();
  });
});

describe('retry classification and backoff', () => {
  it('retries HTTP 429/502/503/504 only, honouring Retry-After', () => {
    expect(httpFailure(503, 'down', '7')).toMatchObject({ retryable: true, retryAfterMs: 7_000 });
    expect(httpFailure(429, '', undefined)).toMatchObject({ retryable: true, retryAfterMs: undefined });
    expect(httpFailure(502, '')).toMatchObject({ retryable: true });
    expect(httpFailure(504, '')).toMatchObject({ retryable: true });
    expect(httpFailure(400, 'bad', '7')).toMatchObject({ retryable: false, retryAfterMs: undefined });
    expect(httpFailure(500, '')).toMatchObject({ retryable: false });
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(5_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('grows exponentially up to max_interval with bounded jitter', () => {
    const retry = config({
      retry_on_failure: {
        initial_interval: '100ms',
        max_interval: '1s',
        multiplier: 2,
        randomization_factor: 0.5,
      },
    }).retry_on_failure;
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(retry, n, () => 0.5))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(retry, 0, () => 0)).toBe(50);
    expect(backoffDelay(retry, 0, () => 0.999999)).toBeCloseTo(150, 3);
  });
});

describe('memory queue', () => {
  it('retries a retryable failure with growing waits, then delivers', async () => {
    vi.useFakeTimers();
    const settings = createTestSettings('otlp', 'exporter');
    const sender = scriptedSender([unavailable(), unavailable(), unavailable()]);
    const delivery = new Delivery(
      settings,
      config({ retry_on_failure: { initial_interval: '20ms', max_interval: '1s', multiplier: 2 } }),
      sender.send,
      {
        random: () => 0.5,
      },
    );
    expect((await exportBatch(delivery, batch(1, 3))).code).toBe(ExportResultCode.SUCCESS);
    // The waits are timers and a memory queue does no I/O: fake time, 20 + 40 + 80 ms of it.
    await vi.advanceTimersByTimeAsync(139);
    expect(delivery.status().sentPoints).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(delivery.status().sentPoints).toBe(3);
    expect(sender.seen).toEqual([1000, 1000, 1000, 1000]);
    const waits = sender.times.slice(1).map((t, i) => t - sender.times[i]!);
    expect(waits).toEqual([20, 40, 80]);
    expect(settings.telemetry.counts.failed).toBe(0);
    await delivery.shutdown();
  });

  it('does not retry a non-retryable failure and counts it failed', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    const sender = scriptedSender([{ ok: false, error: httpFailure(400, 'bad data') }]);
    const delivery = new Delivery(settings, config(), sender.send);
    await exportBatch(delivery, batch(1, 4));
    await exportBatch(delivery, batch(2, 2));
    await waitFor(() => delivery.status().queuedBatches === 0);
    expect(sender.seen).toEqual([1000, 2000]);
    expect(settings.telemetry.counts.failed).toBe(4);
    expect(delivery.status().sentPoints).toBe(2);
    await delivery.shutdown();
  });

  it('gives up after max_elapsed_time and counts the batch failed', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    // Each attempt takes 10 ms of the injected clock; the waits between them are 5, 7.5,
    // 11.25, 16.875 and then 20 ms (the backoff without jitter).
    let clock = 0;
    let attempts = 0;
    const delivery = new Delivery(
      settings,
      config({ retry_on_failure: { max_elapsed_time: '60ms' } }),
      () => {
        attempts += 1;
        clock += 10;
        return Promise.resolve(unavailable());
      },
      { now: () => clock, random: () => 0.5 },
    );
    await exportBatch(delivery, batch(1, 5));
    await waitFor(() => settings.telemetry.counts.failed === 5);
    // The fifth failure comes back at 50 ms: with the next wait, past the 60 ms allowed.
    expect(attempts).toBe(5);
    expect(delivery.status().queuedBatches).toBe(0);
    await delivery.shutdown();
  });

  it('drops the oldest batches when a bound is hit and counts every dropped point', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const delivery = new Delivery(
      settings,
      config({ sending_queue: { queue_size: 10 } }),
      async (request) => {
        seen.push(firstValue(request));
        await blocked;
        return { ok: true };
      },
    );
    // Batch 1 (3 points) goes in flight; 2..6 (3 points each) wait; the bound is 10 points.
    for (let id = 1; id <= 6; id += 1)
      expect((await exportBatch(delivery, batch(id, 3))).code).toBe(ExportResultCode.SUCCESS);
    // Queued: 1 (in flight) + the newest that fit: 1 + 2 batches = 9 points; dropped 2, 3, 4.
    expect(settings.telemetry.counts.dropped.get('queue_full')).toBe(9);
    expect(delivery.status()).toMatchObject({ queuedBatches: 3, queuedPoints: 9, inFlight: 1 });
    release();
    await delivery.forceFlush();
    expect(seen).toEqual([1000, 5000, 6000]);
    expect(delivery.status().sentPoints).toBe(9);
    await delivery.shutdown();
  });

  it('bounds the queue by bytes too', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    const delivery = new Delivery(settings, config({ sending_queue: { max_bytes: 1 } }), () =>
      Promise.resolve({ ok: true }),
    );
    await exportBatch(delivery, batch(1, 2));
    expect(settings.telemetry.counts.dropped.get('queue_full')).toBe(2);
    await delivery.shutdown();
  });

  it('counts what a memory queue still holds at shutdown as dropped', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    const delivery = new Delivery(
      settings,
      config({ retry_on_failure: { initial_interval: '10s', max_interval: '10s' } }),
      () => Promise.resolve(unavailable()),
      { flushTimeoutMs: 100 },
    );
    await exportBatch(delivery, batch(1, 2));
    await exportBatch(delivery, batch(2, 5));
    await delivery.forceFlush();
    await delivery.shutdown();
    expect(settings.telemetry.counts.dropped.get('shutdown')).toBe(7);
  });

  it('without a queue, reports the outcome of sending to the caller', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    const sender = scriptedSender([unavailable(), { ok: false, error: httpFailure(400, 'bad') }]);
    const delivery = new Delivery(settings, config({ sending_queue: { enabled: false } }), sender.send);
    const result = await exportBatch(delivery, batch(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toBe('HTTP 400: bad');
    expect(sender.seen).toEqual([1000, 1000]);
    expect((await exportBatch(delivery, batch(2))).code).toBe(ExportResultCode.SUCCESS);
    await delivery.shutdown();
  });
});

describe('payloads encoded by the exporter when sent (exportDeferred)', () => {
  /** A payload of `text` whose encodings and releases are counted. */
  function deferred(text: string): {
    payload: DeferredPayload;
    encodings: () => number;
    releases: () => number;
  } {
    let encodings = 0;
    let releases = 0;
    return {
      encodings: () => encodings,
      releases: () => releases,
      payload: {
        estimatedBytes: 1000,
        encode: () => {
          encodings += 1;
          return Buffer.from(text);
        },
        release: () => {
          releases += 1;
        },
      },
    };
  }
  const exportDeferred = (
    delivery: Delivery,
    payload: DeferredPayload,
    points: number,
  ): Promise<ExportResult> =>
    new Promise((resolve) => {
      delivery.exportDeferred(payload, points, resolve);
    });

  it('a memory queue keeps it unencoded, counts its estimate, and encodes it at every send', async () => {
    const settings = createTestSettings('postgresql', 'exporter');
    const sent: string[] = [];
    const outcomes = [unavailable(), unavailable()];
    const delivery = new Delivery(settings, config(), (request) => {
      sent.push(Buffer.from(request.bytes).toString());
      return Promise.resolve(outcomes.shift() ?? { ok: true });
    });
    const first = deferred('rows of a');
    const second = deferred('rows of b');
    expect(delivery.queuesInMemory).toBe(true);
    expect((await exportDeferred(delivery, first.payload, 3)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportDeferred(delivery, second.payload, 2)).code).toBe(ExportResultCode.SUCCESS);
    expect(delivery.status().queuedBytes).toBe(2000);
    await delivery.forceFlush();
    // The same bytes at every attempt.
    expect(sent).toEqual(['rows of a', 'rows of a', 'rows of a', 'rows of b']);
    expect([first.encodings(), second.encodings()]).toEqual([3, 1]);
    // Released once each, when delivered.
    expect([first.releases(), second.releases()]).toEqual([1, 1]);
    expect(delivery.status()).toMatchObject({ queuedBytes: 0, sentPoints: 5 });
    expect(settings.telemetry.counts.failed).toBe(0);
    await delivery.shutdown();
  });

  it('a persistent queue stores it encoded once; without a queue it is encoded once and sent', async () => {
    const directory = await tempDir();
    const queued = new Delivery(
      createTestSettings('postgresql', 'exporter'),
      config({ sending_queue: { storage: 'file', directory } }),
      () => Promise.resolve(unavailable()),
    );
    await queued.start();
    expect(queued.queuesInMemory).toBe(false);
    const stored = deferred('stored rows');
    await exportDeferred(queued, stored.payload, 2);
    expect(stored.encodings()).toBe(1);
    expect(queued.status()).toMatchObject({ queuedBytes: 'stored rows'.length, queuedPoints: 2 });
    await queued.shutdown();
    const replayed: string[] = [];
    const again = new Delivery(
      createTestSettings('postgresql', 'exporter'),
      config({ sending_queue: { storage: 'file', directory } }),
      (request) => {
        replayed.push(Buffer.from(request.bytes).toString());
        return Promise.resolve({ ok: true });
      },
    );
    await again.start();
    await again.forceFlush();
    expect(replayed).toEqual(['stored rows']);
    expect(again.status().sentPoints).toBe(2);
    await again.shutdown();

    const direct: string[] = [];
    const unqueued = new Delivery(
      createTestSettings('postgresql', 'exporter'),
      config({ sending_queue: { enabled: false } }),
      (request) => {
        direct.push(Buffer.from(request.bytes).toString());
        return Promise.resolve(direct.length === 1 ? unavailable() : { ok: true });
      },
    );
    const now = deferred('rows now');
    expect((await exportDeferred(unqueued, now.payload, 2)).code).toBe(ExportResultCode.SUCCESS);
    expect(direct).toEqual(['rows now', 'rows now']);
    expect(now.encodings()).toBe(1);
    await unqueued.shutdown();
  });

  it('a payload that cannot be encoded fails for good, counted failed', async () => {
    const settings = createTestSettings('postgresql', 'exporter');
    let sends = 0;
    const delivery = new Delivery(settings, config(), () => {
      sends += 1;
      return Promise.resolve({ ok: true });
    });
    const broken: DeferredPayload = {
      estimatedBytes: 10,
      encode: () => {
        throw new Error('cannot encode');
      },
    };
    expect((await exportDeferred(delivery, broken, 3)).code).toBe(ExportResultCode.SUCCESS);
    await delivery.forceFlush();
    expect(sends).toBe(0);
    expect(settings.telemetry.counts.failed).toBe(3);
    expect(delivery.status().queuedPoints).toBe(0);
    await delivery.shutdown();
  });
});

describe('consumers and self-telemetry', () => {
  it('sends at most num_consumers batches at once, in queue order', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    /** The answers the destination owes, oldest first: it answers when the test says. */
    const answers: (() => void)[] = [];
    const delivery = new Delivery(
      createTestSettings('otlp', 'exporter'),
      config({ sending_queue: { num_consumers: 3 } }),
      async (request) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        seen.push(firstValue(request));
        await new Promise<void>((answer) => answers.push(answer));
        inFlight -= 1;
        return { ok: true };
      },
    );
    for (let id = 1; id <= 9; id += 1) await exportBatch(delivery, batch(id));
    // Each time the destination answers the oldest request, the freed consumer takes the next
    // batch: three requests are pending until the queue runs dry.
    for (let answered = 0; answered < 9; answered += 1) {
      const pending = Math.min(3, 9 - answered);
      await waitFor(() => answers.length >= pending);
      expect(answers).toHaveLength(pending);
      answers.shift()?.();
    }
    await delivery.forceFlush();
    expect(most).toBe(3);
    expect(seen).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    expect(delivery.status().sentPoints).toBe(9);
    await delivery.shutdown();
  });

  it('reports the queue size and the points sent as metrics', async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const settings = { ...createTestSettings('otlp/gw', 'exporter'), meter: provider.getMeter('test') };
    let fail = true;
    const delivery = new Delivery(
      settings,
      config({ retry_on_failure: { initial_interval: '10ms', max_interval: '10ms' } }),
      () => Promise.resolve(fail ? unavailable() : { ok: true }),
    );
    await exportBatch(delivery, batch(1, 3));
    await exportBatch(delivery, batch(2, 4));
    const read = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const metric of (await reader.collect()).resourceMetrics.scopeMetrics.flatMap(
        (sm) => sm.metrics,
      )) {
        for (const p of metric.dataPoints) {
          expect(p.attributes).toEqual({ 'component.id': 'otlp/gw' });
          out[metric.descriptor.name] = p.value as number;
        }
      }
      return out;
    };
    const queued = await read();
    expect(queued['inframeter.exporter.queue.size']).toBe(7);
    expect(queued['inframeter.exporter.queue.bytes']).toBe(delivery.status().queuedBytes);
    expect(queued['inframeter.exporter.queue.bytes']).toBeGreaterThan(0);
    fail = false;
    await waitFor(() => delivery.status().queuedBatches === 0);
    const drained = await read();
    expect(drained['inframeter.exporter.queue.size']).toBe(0);
    expect(drained['inframeter.exporter.points.sent']).toBe(7);
    await delivery.shutdown();
    await provider.shutdown();
  });
});

describe('persistent queue', () => {
  it('survives a crash and replays in order', async () => {
    const directory = await tempDir();
    const queueConfig = config({ sending_queue: { storage: 'file', directory } });
    const down = new Delivery(
      createTestSettings('otlp', 'exporter'),
      queueConfig,
      () => Promise.resolve(unavailable()),
      {
        segmentBytes: 400,
      },
    );
    await down.start();
    for (let id = 1; id <= 8; id += 1)
      expect((await exportBatch(down, batch(id, 2))).code).toBe(ExportResultCode.SUCCESS);
    expect((await readdir(directory)).filter((n) => n.startsWith('segment-')).length).toBeGreaterThan(1);
    // "Crash": no shutdown; a new queue opens the same directory.
    const sender = scriptedSender([]);
    const settings = createTestSettings('otlp', 'exporter');
    const up = new Delivery(settings, queueConfig, sender.send, { segmentBytes: 400 });
    await up.start();
    await up.forceFlush();
    expect(sender.seen).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]);
    expect(up.status().sentPoints).toBe(16);
    await up.shutdown();
    await down.shutdown();
    // Everything consumed: segments removed (but the active one), offset recorded.
    expect(Number(await readFile(join(directory, 'consumed'), 'utf8'))).toBe(8);
    const again = scriptedSender([]);
    const third = new Delivery(createTestSettings('otlp', 'exporter'), queueConfig, again.send);
    await third.start();
    await third.forceFlush();
    expect(again.seen).toEqual([]);
    await third.shutdown();
  });

  it('keeps undelivered batches across a clean restart and continues the sequence', async () => {
    const directory = await tempDir();
    const queueConfig = config({ sending_queue: { storage: 'file', directory } });
    const sender = scriptedSender([{ ok: true }, ...Array.from({ length: 100 }, unavailable)]);
    const first = new Delivery(createTestSettings('otlp', 'exporter'), queueConfig, sender.send);
    await exportBatch(first, batch(1));
    await exportBatch(first, batch(2));
    await first.forceFlush();
    await first.shutdown();
    const second = scriptedSender([]);
    const restarted = new Delivery(createTestSettings('otlp', 'exporter'), queueConfig, second.send);
    await exportBatch(restarted, batch(3));
    await restarted.forceFlush();
    expect(second.seen).toEqual([2000, 3000]);
    await restarted.shutdown();
  });

  it('detects a torn last record, skips it and keeps the rest', async () => {
    const directory = await tempDir();
    const store = new FileStore(directory);
    await store.open();
    const payload = (n: number) => Buffer.alloc(50, n);
    await store.append(1, 3, payload(1));
    await store.append(2, 4, payload(2));
    await store.append(3, 5, payload(3));
    const [segment] = (await readdir(directory)).filter((n) => n.startsWith('segment-'));
    const path = join(directory, segment!);
    const size = (await stat(path)).size;
    await truncate(path, size - 20); // the last write cut short by a crash
    const reopened = new FileStore(directory);
    const report = await reopened.open();
    expect(report.records.map((r) => [r.seq, r.points])).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(report.torn).toBe(1);
    expect((await stat(path)).size).toBe(size - (8 + 12 + 50));
    expect(Buffer.from(await reopened.read(report.records[1]!))).toEqual(payload(2));
    // Appending after recovery continues cleanly after the last good record.
    await reopened.append(4, 6, payload(4));
    await reopened.close();
    const third = await new FileStore(directory).open();
    expect(third.records.map((r) => r.seq)).toEqual([1, 2, 4]);
    expect(third.torn).toBe(0);
  });

  it('skips a record whose checksum does not match and counts its points', async () => {
    const directory = await tempDir();
    const store = new FileStore(directory);
    await store.open();
    await store.append(1, 3, Buffer.alloc(10, 1));
    await store.append(2, 4, Buffer.alloc(10, 2));
    await store.append(3, 5, Buffer.alloc(10, 3));
    await store.close();
    const [segment] = (await readdir(directory)).filter((n) => n.startsWith('segment-'));
    const path = join(directory, segment!);
    const bytes = await readFile(path);
    const at = 8 + 30 + 8 + 12 + 2; // a payload byte of record 2
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    await writeFile(path, bytes);
    const report = await new FileStore(directory).open();
    expect(report.records.map((r) => r.seq)).toEqual([1, 3]);
    expect(report).toMatchObject({ corrupt: 1, corruptPoints: 4, torn: 0 });
  });

  it('ignores garbage appended after the last record (a header cut short)', async () => {
    const directory = await tempDir();
    const store = new FileStore(directory);
    await store.open();
    await store.append(1, 1, Buffer.alloc(5));
    const [segment] = (await readdir(directory)).filter((n) => n.startsWith('segment-'));
    await appendFile(join(directory, segment!), Buffer.from([1, 2, 3]));
    const report = await new FileStore(directory).open();
    expect(report.records.map((r) => r.seq)).toEqual([1]);
    expect(report.torn).toBe(1);
  });

  it('refuses a directory held by another live process', async () => {
    const directory = await tempDir();
    await writeFile(join(directory, 'lock'), `${process.ppid}\n`);
    await expect(new FileStore(directory).open()).rejects.toThrow(`is in use by process ${process.ppid}`);
  });
});

describe('catching up after an outage', () => {
  it('sends a backlog several batches per request, in queue order, one request at a time', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    let down = true;
    const requests: { points: number; values: number[] }[] = [];
    const delivery = new Delivery(
      settings,
      config(),
      (request) => {
        if (down) return Promise.resolve(unavailable());
        const values = decodeBatches(request.bytes).flatMap((b) =>
          b.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.map((p) => p.value as number))),
        );
        requests.push({ points: request.points, values });
        return Promise.resolve({ ok: true });
      },
      { coalesceBytes: 64 * 1024 },
    );
    for (let id = 1; id <= 40; id++) await exportBatch(delivery, batch(id, 3));
    down = false;
    await waitFor(() => delivery.status().queuedBatches === 0);
    const values = requests.flatMap((r) => r.values);
    expect(values).toEqual(
      Array.from({ length: 40 }, (_, k) => [0, 1, 2].map((i) => (k + 1) * 1000 + i)).flat(),
    );
    // The first request was the one retried alone; the 39 waiting went together.
    expect(requests.length).toBeLessThanOrEqual(3);
    expect(requests.reduce((sum, r) => sum + r.points, 0)).toBe(120);
    expect(settings.telemetry.counts.failed).toBe(0);
    await delivery.shutdown();
  });

  it('never lets a request grow past coalesceBytes (beyond one batch)', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    let down = true;
    const sizes: number[] = [];
    const delivery = new Delivery(
      settings,
      config(),
      (request) => {
        if (down) return Promise.resolve(unavailable());
        sizes.push(request.bytes.length);
        return Promise.resolve({ ok: true });
      },
      { coalesceBytes: 2000 },
    );
    for (let id = 1; id <= 30; id++) await exportBatch(delivery, batch(id, 10));
    down = false;
    await waitFor(() => delivery.status().queuedBatches === 0);
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(2000);
    await delivery.shutdown();
  });

  it('probes a failing destination at least every probe interval, with the oldest batch alone', async () => {
    // Probes are timers and a memory queue does no I/O: time is the test's to move.
    vi.useFakeTimers();
    const settings = createTestSettings('otlp', 'exporter');
    let down = true;
    let inFlight = 0;
    const failed: { at: number; concurrent: number; values: number[] }[] = [];
    const delivered: number[] = [];
    const t0 = performance.now();
    const delivery = new Delivery(
      settings,
      // Left to itself the backoff would wait 0.2 s, 0.4 s, 0.8 s … up to 10 s.
      config({
        sending_queue: { num_consumers: 4 },
        retry_on_failure: { initial_interval: '200ms', max_interval: '10s', multiplier: 2 },
      }),
      async (request) => {
        inFlight += 1;
        const concurrent = inFlight;
        // The destination answers 2 ms later, on the fake clock.
        await new Promise((r) => setTimeout(r, 2));
        inFlight -= 1;
        const values = decodeBatches(request.bytes).flatMap((b) =>
          b.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.map((p) => p.value as number))),
        );
        if (down) {
          failed.push({ at: performance.now() - t0, concurrent, values });
          return unavailable();
        }
        delivered.push(...values);
        return { ok: true };
      },
      { coalesceBytes: 64 * 1024, probeIntervalMs: 60, random: () => 0.5 },
    );
    for (let id = 1; id <= 10; id++) await exportBatch(delivery, batch(id, 3));
    await vi.advanceTimersByTimeAsync(2 + 4 * 62);
    // The first sends, before the first failure came back, went out on every consumer; then
    // one probe at a time, the oldest batch alone, 60 ms after the previous one failed.
    const first = failed.filter((f) => f.at === 2);
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((f) => f.concurrent <= 4)).toBe(true);
    const probes = failed.slice(first.length);
    expect(probes).toEqual(
      [64, 126, 188, 250].map((at) => ({ at, concurrent: 1, values: [1000, 1001, 1002] })),
    );
    down = false;
    await vi.advanceTimersByTimeAsync(62 + 2);
    expect(delivery.status().queuedBatches).toBe(0);
    expect(delivered).toEqual(
      Array.from({ length: 10 }, (_, k) => [0, 1, 2].map((i) => (k + 1) * 1000 + i)).flat(),
    );
    expect(settings.telemetry.counts.failed).toBe(0);
    await delivery.shutdown();
  });

  it('once a probe succeeds, drains with every consumer at once and no backoff', async () => {
    vi.useFakeTimers();
    const settings = createTestSettings('otlp', 'exporter');
    let down = true;
    let attemptsWhileDown = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const delivery = new Delivery(
      settings,
      config({
        sending_queue: { num_consumers: 4 },
        retry_on_failure: { initial_interval: '50ms', max_interval: '30s', multiplier: 3 },
      }),
      async () => {
        if (down) {
          attemptsWhileDown += 1;
          return unavailable();
        }
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        // The destination answers 20 ms later, on the fake clock.
        await new Promise((r) => setTimeout(r, 20));
        inFlight -= 1;
        return { ok: true };
      },
      // One batch per request, so that the consumers have something to share.
      { probeIntervalMs: 100, random: () => 0.5 },
    );
    for (let id = 1; id <= 20; id++) await exportBatch(delivery, batch(id, 2));
    // Probes after 50 ms, then every 100 ms (the backoff, 150 ms and more, is capped).
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attemptsWhileDown).toBeGreaterThanOrEqual(4);
    down = false;
    const upAt = performance.now();
    // Fake time moves on 1 ms at a time until the queue is empty (5 s of it at most).
    while (delivery.status().queuedBatches > 0 && performance.now() - upAt < 5_000)
      await vi.advanceTimersByTimeAsync(1);
    const drainMs = performance.now() - upAt;
    expect(mostInFlight).toBe(4);
    expect(delivery.status().sentPoints).toBe(40);
    // At most a probe interval to see the destination back, the probe's 20 ms, then 19
    // batches on 4 consumers: 5 rounds of 20 ms. No wait of the failing streak's backoff
    // (at its 30 s cap by now) is carried over.
    expect(drainMs).toBeLessThanOrEqual(100 + 20 + 5 * 20);
    await delivery.shutdown();
  });

  it('a persistent queue never gives a batch up on a deadline the operator did not set', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    const directory = await tempDir();
    let clock = 0;
    let attempts = 0;
    const delivery = new Delivery(
      settings,
      config({ sending_queue: { storage: 'file', directory } }),
      () => {
        attempts += 1;
        // Each attempt is an hour later: far past the memory queue's 5 minutes.
        clock += 3_600_000;
        return Promise.resolve(attempts < 10 ? unavailable() : { ok: true });
      },
      { now: () => clock },
    );
    await exportBatch(delivery, batch(1, 4));
    await waitFor(() => delivery.status().sentPoints === 4);
    expect(settings.telemetry.counts.failed).toBe(0);
    expect(attempts).toBe(10);
    await delivery.shutdown();
  });

  it('a memory queue keeps the 5 minute deadline when none is set', async () => {
    const settings = createTestSettings('otlp', 'exporter');
    let clock = 0;
    const delivery = new Delivery(
      settings,
      config(),
      () => {
        clock += 60_000;
        return Promise.resolve(unavailable());
      },
      { now: () => clock },
    );
    await exportBatch(delivery, batch(1, 4));
    await waitFor(() => settings.telemetry.counts.failed === 4);
    expect(clock).toBeLessThanOrEqual(DEFAULT_MAX_ELAPSED_MS + 60_000);
    await delivery.shutdown();
  });
});
