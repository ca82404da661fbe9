import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createReadableMeter } from '../../test/support/metric-reader.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import { encodeExportRequest } from '../../kit/otlp/encode.ts';
import { InfluxdbExporter, splitLegacy } from './influxdb.ts';
import { batchOf, numberMetric } from './testdata/fixtures/batches.ts';
import type { WriteClient, WriteResponse } from './write-client.ts';

/** A transport that records the bodies and answers from a script. */
function scriptedClient(answers: WriteResponse[]): WriteClient & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    url: 'http://127.0.0.1:8086/write?db=m',
    bodies,
    write(body, gzipped) {
      bodies.push((gzipped ? gunzipSync(body) : body).toString('utf8'));
      return Promise.resolve(answers.shift() ?? { status: 204, body: '' });
    },
    close() {
      // Nothing to release.
    },
  };
}

function setup(answers: WriteResponse[], config: Record<string, unknown> = {}) {
  const readable = createReadableMeter();
  const settings = { ...createTestSettings('influxdb', 'exporter'), meter: readable.meter };
  const client = scriptedClient(answers);
  const exporter = new InfluxdbExporter(
    settings,
    configSchema.parse({
      endpoint: 'http://127.0.0.1:8086',
      database: 'm',
      sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '10ms', max_interval: '20ms', randomization_factor: 0 },
      ...config,
    }),
    { client },
  );
  const send = (batch: ResourceMetrics) =>
    new Promise<ExportResult>((resolve) => {
      exporter.export(batch, resolve);
    });
  return {
    exporter,
    settings,
    client,
    send,
    rejected: (reason: string) => readable.value('inframeter.influxdb.points.rejected', { reason }),
  };
}

describe('influxdb exporter', () => {
  it('writes the batch as line protocol, leaving out and counting a NaN', async () => {
    const { exporter, settings, client, send } = setup([]);
    await exporter.start();
    const result = await send(
      batchOf([
        numberMetric('m', [
          [{ a: 'x' }, 1.5],
          [{ a: 'y' }, Number.NaN],
        ]),
      ]),
    );
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(client.bodies).toEqual(['m,a=x value=1.5 1764003600123456789\n']);
    expect(settings.telemetry.counts.dropped.get('not_a_number')).toBe(1);
    await exporter.shutdown();
  });

  it('retries a 503 and a refused connection, then writes', async () => {
    const { exporter, client, send } = setup([
      { status: 503, body: '{"error":"busy"}' },
      { failure: new ExportFailure('connection refused', { retryable: true }) },
    ]);
    await exporter.start();
    expect((await send(batchOf([numberMetric('m', [[{}, 1]])]))).code).toBe(ExportResultCode.SUCCESS);
    expect(client.bodies).toHaveLength(3);
    await exporter.shutdown();
  });

  it('drops a batch refused with 400, counted with its reason, without retrying it', async () => {
    const { exporter, settings, client, send, rejected } = setup([
      { status: 400, body: '{"error":"unable to parse \'m value=\': missing field value"}' },
    ]);
    await exporter.start();
    const result = await send(
      batchOf([
        numberMetric('m', [
          [{}, 1],
          [{ a: 'b' }, 2],
        ]),
      ]),
    );
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toContain('HTTP 400: unable to parse');
    expect(client.bodies).toHaveLength(1);
    expect(await rejected('bad_request')).toBe(2);
    expect(settings.telemetry.counts.failed).toBe(0);
    await exporter.shutdown();
  });

  it('sends nothing when the schema writes no line, and counts what it left out', async () => {
    const { exporter, settings, client, send } = setup([], { schema: 'cs_pulse_sensor' });
    await exporter.start();
    expect((await send(batchOf([numberMetric('system.cpu.time', [[{}, 1]])]))).code).toBe(
      ExportResultCode.SUCCESS,
    );
    expect(client.bodies).toEqual([]);
    expect(settings.telemetry.counts.dropped.get('not_in_schema')).toBe(1);
    await exporter.shutdown();
  });

  it('queues the lines and writes them in order, several batches per request', async () => {
    const { exporter, client, send } = setup([], { sending_queue: { enabled: true } });
    await exporter.start();
    for (let i = 0; i < 3; i += 1)
      await send(batchOf([numberMetric('m', [[{ n: String(i) }, i]], { int: true })]));
    await exporter.forceFlush();
    expect(client.bodies.join('')).toBe(
      [0, 1, 2].map((i) => `m,n=${String(i)} value=${String(i)}i 1764003600123456789\n`).join(''),
    );
    expect(exporter.describe()).toBe('InfluxDB 1.x http://127.0.0.1:8086/write (otel schema), memory queue');
    await exporter.shutdown();
  });

  it('writes the OTLP batches a disk queue of an earlier version holds, then the new ones', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'inframeter-influx-legacy-'));
    try {
      const config = configSchema.parse({
        endpoint: 'http://127.0.0.1:8086',
        database: 'm',
        sending_queue: { storage: 'file', directory },
      });
      // What earlier versions queued: the batch in OTLP, kept on disk while InfluxDB was down.
      const old = new Delivery(createTestSettings('influxdb', 'exporter'), config, () =>
        Promise.resolve({ ok: false, error: new ExportFailure('down', { retryable: true }) }),
      );
      await old.start();
      await new Promise<void>((resolve) => {
        old.export(batchOf([numberMetric('m', [[{ n: 'old' }, 1]], { int: true })]), () => {
          resolve();
        });
      });
      await old.shutdown();

      const client = scriptedClient([]);
      const exporter = new InfluxdbExporter(createTestSettings('influxdb', 'exporter'), config, { client });
      await exporter.start();
      await new Promise<void>((resolve) => {
        exporter.export(batchOf([numberMetric('m', [[{ n: 'new' }, 2]], { int: true })]), () => {
          resolve();
        });
      });
      await exporter.forceFlush();
      expect(client.bodies.join('')).toBe(
        'm,n=old value=1i 1764003600123456789\nm,n=new value=2i 1764003600123456789\n',
      );
      await exporter.shutdown();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('tells queued OTLP from line protocol', () => {
    const otlp = Buffer.from(
      encodeExportRequest([batchOf([numberMetric('m', [[{ n: 'x'.repeat(200) }, 1]], { int: true })])]),
    );
    const lines = Buffer.from('m value=1i 1\n');
    expect(splitLegacy(Buffer.concat([otlp, otlp, lines]))).toEqual([Buffer.concat([otlp, otlp]), lines]);
    expect(splitLegacy(lines)).toEqual([Buffer.alloc(0), lines]);
    expect(splitLegacy(otlp)).toEqual([otlp, Buffer.alloc(0)]);
  });
});
