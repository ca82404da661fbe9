import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createReadableMeter } from '../../test/support/metric-reader.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { InfluxdbExporter } from './influxdb.ts';
import { batchOf, numberMetric } from './testdata/fixtures/batches.ts';
import type { WriteClient, WriteResponse } from './write-client.ts';

/** A transport that records the bodies and answers from a script. */
function scriptedClient(answers: WriteResponse[]): WriteClient & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    url: 'http://127.0.0.1:8086/write?db=m',
    bodies,
    write(lines) {
      bodies.push(lines);
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
    expect(client.bodies).toEqual(['m,a=x value=1.5 1764003600123456789']);
    expect(settings.telemetry.counts.dropped.get('not_a_number')).toBe(1);
    await exporter.shutdown();
  });

  it('retries a 503 and a refused connection, then writes', async () => {
    const { ExportFailure } = await import('../../kit/delivery/retry.ts');
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

  it('decodes queued batches and writes them in order', async () => {
    const { exporter, client, send } = setup([], { sending_queue: { enabled: true } });
    await exporter.start();
    for (let i = 0; i < 3; i += 1)
      await send(batchOf([numberMetric('m', [[{ n: String(i) }, i]], { int: true })]));
    await exporter.forceFlush();
    expect(client.bodies).toEqual(
      [0, 1, 2].map((i) => `m,n=${String(i)} value=${String(i)}i 1764003600123456789`),
    );
    expect(exporter.describe()).toBe('InfluxDB 1.x http://127.0.0.1:8086/write (otel schema), memory queue');
    await exporter.shutdown();
  });
});
