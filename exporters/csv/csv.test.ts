import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { CsvExporter } from './csv.ts';
import { csvFactory } from './factory.ts';
import { CSV_HEADER } from './rows.ts';
import { createKnownBatch, KNOWN_BATCH_POINTS, KNOWN_BATCH_ROWS } from './testdata/fixtures/known-batch.ts';
import { waitUntil } from '../../test/support/wait.ts';

const GOLDEN = join(import.meta.dirname, 'testdata', 'golden', 'known-batch.csv');
/** 2026-11-22T18:00:00.000Z */
const T0 = Date.UTC(2026, 10, 22, 18, 0, 0);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-csv-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A settable clock. */
function createClock(start = T0): { now: () => number; set: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
  };
}

function createExporter(
  config: Record<string, unknown> = {},
  now?: () => number,
): { exporter: CsvExporter; path: string; settings: ReturnType<typeof createTestSettings> } {
  const path = join(dir, 'metrics.csv');
  const settings = createTestSettings('csv', 'exporter');
  const parsed = configSchema.parse({ path, flush_interval: 0, ...config });
  const exporter = new CsvExporter(settings, parsed, now === undefined ? {} : { now });
  return { exporter, path, settings };
}

function exportBatch(exporter: CsvExporter, batch: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    exporter.export(batch, resolve);
  });
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function records(text: string): Record<string, string>[] {
  return parse<Record<string, string>>(text, { columns: true });
}

function countHeaders(text: string): number {
  return text.split(CSV_HEADER).length - 1;
}

describe('csv exporter output', () => {
  it('writes the header once and one row per point, byte for byte as the golden file', async () => {
    const { exporter, path } = createExporter();
    await exporter.start();
    expect((await exportBatch(exporter, createKnownBatch())).code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();
    const text = read(path);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    expect(text).toBe(read(GOLDEN));
    expect(text.startsWith(CSV_HEADER)).toBe(true);
    expect(records(text)).toHaveLength(KNOWN_BATCH_ROWS);
  });

  it('writes each kind of point as documented', async () => {
    const { exporter, path } = createExporter();
    await exportBatch(exporter, createKnownBatch());
    await exporter.shutdown();
    const lines = read(path).split('\n');
    const resource =
      '"{""deployment.environment.name"":""lab, rack \\""A\\"""",""service.name"":""inframeter""}"';
    const start = '2026-11-22T17:00:00.000Z';
    const end = '2026-11-22T18:00:00.123Z';
    expect(lines[0]).toBe('timestamp,host,metric,unit,type,value,attributes,resource,start_timestamp');
    expect(lines[1]).toBe(
      `${end},lab-node-1,system.cpu.time,s,counter,1234.5,"{""cpu"":""0"",""cpu.mode"":""user""}",${resource},${start}`,
    );
    expect(lines[3]).toBe(
      `${end},lab-node-1,hw.temperature,Cel,gauge,25.5,"{""hw.id"":""inlet"",""hw.name"":""Inlet Temp, \\""front\\""\\nrow 2 — ünïcødé 🌡""}",${resource},`,
    );
    expect(lines[4]).toBe(`${end},lab-node-1,hw.temperature,Cel,gauge,-3,{},${resource},`);
    expect(lines[5]).toBe(
      `${end},lab-node-1,system.memory.usage,By,updowncounter,8123456789,"{""system.memory.state"":""used""}",${resource},${start}`,
    );
    const histogram = lines.slice(7, 15).map((line) => line.split(',').slice(2, 6).join(','));
    expect(histogram).toEqual([
      'http.server.request.duration.bucket,1,histogram,3',
      'http.server.request.duration.bucket,1,histogram,5',
      'http.server.request.duration.bucket,1,histogram,5',
      'http.server.request.duration.bucket,1,histogram,6',
      'http.server.request.duration.sum,s,histogram,2.75',
      'http.server.request.duration.count,1,histogram,6',
      'http.server.request.duration.min,s,histogram,0.001',
      'http.server.request.duration.max,s,histogram,2.1',
    ]);
    const rows = records(read(path));
    expect(rows.slice(6, 10).map((r) => JSON.parse(r.attributes ?? '') as unknown)).toEqual([
      { 'http.route': '/api,v1', le: '0.005' },
      { 'http.route': '/api,v1', le: '0.1' },
      { 'http.route': '/api,v1', le: '1' },
      { 'http.route': '/api,v1', le: '+Inf' },
    ]);
    expect(rows.slice(14).map((r) => [r.metric, r.unit, r.type, r.value])).toEqual([
      ['rpc.server.duration.count', '1', 'exponential_histogram', '4'],
      ['rpc.server.duration.sum', 'ms', 'exponential_histogram', '10'],
      ['rpc.server.duration.min', 'ms', 'exponential_histogram', '1'],
      ['rpc.server.duration.max', 'ms', 'exponential_histogram', '5'],
    ]);
    expect(JSON.parse(rows[2]?.attributes ?? '')).toEqual({
      'hw.id': 'inlet',
      'hw.name': 'Inlet Temp, "front"\nrow 2 — ünïcødé 🌡',
    });
  });

  it('leaves the resource column empty with include_resource: false, and host empty without host.name', async () => {
    const { exporter, path } = createExporter({ include_resource: false });
    const batch = createKnownBatch();
    await exportBatch(exporter, { ...batch, resource: resourceFromAttributes({ 'service.name': 'x' }) });
    await exporter.shutdown();
    const rows = records(read(path));
    expect(rows).toHaveLength(KNOWN_BATCH_ROWS);
    expect(new Set(rows.map((r) => `${r.host ?? '?'}|${r.resource ?? '?'}`))).toEqual(new Set(['|']));
  });

  it('calls back only once the rows are in the file, at the flush interval', async () => {
    const { exporter, path } = createExporter({ flush_interval: '100ms' });
    await exporter.start();
    const started = performance.now();
    const result = await new Promise<{ code: number; text: string }>((resolve) => {
      exporter.export(createKnownBatch(), (r) => {
        resolve({ code: r.code, text: read(path) });
      });
      expect(read(path)).toBe(CSV_HEADER);
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(records(result.text)).toHaveLength(KNOWN_BATCH_ROWS);
    await exporter.shutdown();
  });

  it('acknowledges an empty batch without writing a row', async () => {
    const { exporter, path } = createExporter();
    await exporter.start();
    const result = await exportBatch(exporter, { resource: resourceFromAttributes({}), scopeMetrics: [] });
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();
    expect(read(path)).toBe(CSV_HEADER);
  });

  it('works as a plain SDK exporter, without start()', async () => {
    // The SDK's reader waits for each export's callback, which comes at the next flush.
    const { exporter, path } = createExporter({ flush_interval: '50ms' });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'host.name': 'sdk-host' }),
      readers: [reader],
    });
    const counter = provider
      .getMeter('app')
      .createCounter('app.requests', { unit: '{request}', valueType: ValueType.INT });
    counter.add(3, { route: '/' });
    await provider.forceFlush();
    const rows = records(read(path));
    expect(rows.map((r) => [r.host, r.metric, r.unit, r.type, r.value, r.attributes, r.resource])).toEqual([
      ['sdk-host', 'app.requests', '{request}', 'counter', '3', '{"route":"/"}', '{}'],
    ]);
    await provider.shutdown();
    await exporter.shutdown();
  });
});

describe('csv exporter across restarts', () => {
  it('writes the header once when a second exporter appends to the same file', async () => {
    const first = createExporter();
    await first.exporter.start();
    await exportBatch(first.exporter, createKnownBatch('host-a'));
    await first.exporter.shutdown();
    const second = createExporter();
    await second.exporter.start();
    await exportBatch(second.exporter, createKnownBatch('host-b'));
    await second.exporter.shutdown();
    const text = read(first.path);
    expect(countHeaders(text)).toBe(1);
    const rows = records(text);
    expect(rows).toHaveLength(2 * KNOWN_BATCH_ROWS);
    expect(rows[0]?.host).toBe('host-a');
    expect(rows[KNOWN_BATCH_ROWS]?.host).toBe('host-b');
    expect(readdirSync(dir)).toEqual(['metrics.csv']);
  });

  it('moves a file with another header aside and starts a new one', async () => {
    const path = join(dir, 'metrics.csv');
    const old = 'timestamp,host,metric,value\n2026-01-01T00:00:00.000Z,h,m,1\n';
    writeFileSync(path, old);
    const { exporter } = createExporter({}, createClock().now);
    await exporter.start();
    await exportBatch(exporter, createKnownBatch());
    await exporter.shutdown();
    expect(readdirSync(dir).sort()).toEqual(['metrics.2026-11-22T18-00-00.000Z.old.csv', 'metrics.csv']);
    expect(read(join(dir, 'metrics.2026-11-22T18-00-00.000Z.old.csv'))).toBe(old);
    expect(read(path)).toBe(read(GOLDEN));
  });

  it('cuts an incomplete last record off, so that the file loads', async () => {
    const path = join(dir, 'metrics.csv');
    const complete = read(GOLDEN);
    // The last record cut in the middle of its quoted attributes field.
    writeFileSync(
      path,
      `${complete}2026-11-22T18:00:00.123Z,lab-node-1,hw.temperature,Cel,gauge,25.5,"{""hw.id"":""in`,
    );
    const { exporter } = createExporter();
    await exporter.start();
    expect(read(path)).toBe(complete);
    await exportBatch(exporter, createKnownBatch());
    await exporter.shutdown();
    expect(countHeaders(read(path))).toBe(1);
    expect(records(read(path))).toHaveLength(2 * KNOWN_BATCH_ROWS);
  });

  it('cuts a record that ends in a line feed inside open quotes', async () => {
    const path = join(dir, 'metrics.csv');
    const complete = read(GOLDEN);
    writeFileSync(path, `${complete}2026-11-22T18:00:00.123Z,"host with a\nline feed`);
    const { exporter } = createExporter();
    await exporter.start();
    await exporter.shutdown();
    expect(read(path)).toBe(complete);
  });

  it('starts again a file that holds only part of the header', async () => {
    const path = join(dir, 'metrics.csv');
    writeFileSync(path, 'timestamp,host,met');
    const { exporter } = createExporter();
    await exporter.start();
    await exporter.shutdown();
    expect(read(path)).toBe(CSV_HEADER);
    expect(readdirSync(dir)).toEqual(['metrics.csv']);
  });

  it('fails to start on a directory, and fails exports it cannot write', async () => {
    mkdirSync(join(dir, 'metrics.csv'));
    const { exporter } = createExporter();
    await expect(exporter.start()).rejects.toThrow(/is not a regular file/);
    const result = await exportBatch(exporter, createKnownBatch());
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/is not a regular file/);
    await exporter.shutdown();
  });
});

describe('csv exporter rotation', () => {
  it('rotates by size between batches, each file with its header and within max_size', async () => {
    const batchBytes = Buffer.byteLength(read(GOLDEN)) - CSV_HEADER.length;
    const maxSize = CSV_HEADER.length + 2 * batchBytes + 10;
    const clock = createClock();
    const { exporter, path } = createExporter({ rotation: { max_size: maxSize } }, clock.now);
    for (let i = 0; i < 5; i++) {
      clock.set(T0 + i * 1000);
      await exportBatch(exporter, createKnownBatch(`host-${i}`));
    }
    await exporter.shutdown();
    // Rotated before batches 2 and 4, at their times.
    expect(readdirSync(dir).sort()).toEqual([
      'metrics.2026-11-22T18-00-02.000Z.csv',
      'metrics.2026-11-22T18-00-04.000Z.csv',
      'metrics.csv',
    ]);
    const hosts = (name: string): string[] => [
      ...new Set(records(read(join(dir, name))).map((r) => r.host ?? '')),
    ];
    expect(hosts('metrics.2026-11-22T18-00-02.000Z.csv')).toEqual(['host-0', 'host-1']);
    expect(hosts('metrics.2026-11-22T18-00-04.000Z.csv')).toEqual(['host-2', 'host-3']);
    expect(hosts('metrics.csv')).toEqual(['host-4']);
    for (const name of readdirSync(dir)) {
      const text = read(join(dir, name));
      expect(countHeaders(text)).toBe(1);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(maxSize);
    }
    expect(read(path).startsWith(CSV_HEADER)).toBe(true);
  });

  it('splits rows waiting together by size, and keeps max_files rotated files', async () => {
    const batchBytes = Buffer.byteLength(read(GOLDEN)) - CSV_HEADER.length;
    // A still clock: rotations in the same millisecond take -1, -2… after the stamp.
    const { exporter } = createExporter(
      { flush_interval: '1h', rotation: { max_size: CSV_HEADER.length + batchBytes, max_files: 2 } },
      createClock().now,
    );
    const results = Promise.all([1, 2, 3, 4].map(() => exportBatch(exporter, createKnownBatch())));
    await exporter.forceFlush();
    expect((await results).map((r) => r.code)).toEqual([0, 0, 0, 0]);
    await exporter.shutdown();
    expect(readdirSync(dir).sort()).toEqual([
      'metrics.2026-11-22T18-00-00.000Z-1.csv',
      'metrics.2026-11-22T18-00-00.000Z-2.csv',
      'metrics.csv',
    ]);
    for (const name of readdirSync(dir)) expect(read(join(dir, name))).toBe(read(GOLDEN));
  });

  it('rotates by time when the file reaches rotation.interval', async () => {
    const clock = createClock();
    const { exporter } = createExporter({ rotation: { interval: '1h' } }, clock.now);
    await exporter.start();
    await exportBatch(exporter, createKnownBatch('first'));
    clock.set(T0 + 30 * 60_000);
    await exportBatch(exporter, createKnownBatch('second'));
    clock.set(T0 + 60 * 60_000);
    await exportBatch(exporter, createKnownBatch('third'));
    await exporter.shutdown();
    expect(readdirSync(dir).sort()).toEqual(['metrics.2026-11-22T19-00-00.000Z.csv', 'metrics.csv']);
    const rotated = records(read(join(dir, 'metrics.2026-11-22T19-00-00.000Z.csv')));
    expect([...new Set(rotated.map((r) => r.host))]).toEqual(['first', 'second']);
    expect([...new Set(records(read(join(dir, 'metrics.csv'))).map((r) => r.host))]).toEqual(['third']);
  });

  it('rotates a file that is due even when no more rows arrive', async () => {
    const { exporter, path } = createExporter({ rotation: { interval: '150ms' } });
    await exporter.start();
    await exportBatch(exporter, createKnownBatch());
    // Until the file is rotated and its successor has its header (opened, then written).
    const started = (): boolean => existsSync(path) && statSync(path).size === CSV_HEADER.length;
    await waitUntil(
      () => readdirSync(dir).length >= 2 && started(),
      'the rotation and a new file with its header',
    );
    const rotated = readdirSync(dir).filter((name) => name !== 'metrics.csv');
    expect(rotated).toHaveLength(1);
    expect(read(join(dir, rotated[0] ?? ''))).toBe(read(GOLDEN));
    expect(read(path)).toBe(CSV_HEADER);
    await exporter.shutdown();
  });
});

describe('csv exporter buffering and shutdown', () => {
  it('writes waiting rows on shutdown, syncs, and answers their callbacks', async () => {
    const { exporter, path } = createExporter({ flush_interval: '1h' });
    await exporter.start();
    const results: number[] = [];
    exporter.export(createKnownBatch(), (r) => results.push(r.code));
    exporter.export(createKnownBatch(), (r) => results.push(r.code));
    expect(read(path)).toBe(CSV_HEADER);
    await exporter.shutdown();
    expect(results).toEqual([ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
    expect(records(read(path))).toHaveLength(2 * KNOWN_BATCH_ROWS);
  });

  it('fails a batch that does not fit the buffer and counts its points dropped', async () => {
    const { exporter, path, settings } = createExporter({ flush_interval: '1h', max_buffer_size: 1024 });
    await exporter.start();
    const first = exportBatch(exporter, createKnownBatch()); // larger than 1 KiB, but the buffer is empty
    const second = await exportBatch(exporter, createKnownBatch());
    expect(second.code).toBe(ExportResultCode.FAILED);
    expect(second.error?.message).toMatch(
      /^csv buffer full: \d+ bytes wait to be written \(max_buffer_size 1024\); 8 points dropped$/,
    );
    expect(settings.telemetry.counts.dropped).toEqual(new Map([['buffer_full', KNOWN_BATCH_POINTS]]));
    await exporter.forceFlush();
    expect((await first).code).toBe(ExportResultCode.SUCCESS);
    // Written, the buffer takes batches again.
    const third = exportBatch(exporter, createKnownBatch());
    await exporter.shutdown();
    expect((await third).code).toBe(ExportResultCode.SUCCESS);
    expect(records(read(path))).toHaveLength(2 * KNOWN_BATCH_ROWS);
  });

  it('shuts down before start and twice, creating nothing, and refuses exports after', async () => {
    const { exporter, path } = createExporter();
    await exporter.shutdown();
    await exporter.shutdown();
    await exporter.start();
    expect(existsSync(path)).toBe(false);
    const result = await exportBatch(exporter, createKnownBatch());
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toBe('the csv exporter is shut down');
  });

  it('is created by its factory from a parsed config, and describes its path', async () => {
    const path = join(dir, 'sub', 'dir', 'out.csv');
    const exporter = csvFactory.create(
      createTestSettings('csv', 'exporter'),
      csvFactory.configSchema.parse({ path }),
    );
    expect(exporter.describe?.()).toBe(path);
    await exporter.start?.();
    await exporter.shutdown();
    expect(read(path)).toBe(CSV_HEADER);
  });
});
