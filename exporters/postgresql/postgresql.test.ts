import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { freePort, poll } from '../../test/support/peers.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { PostgresqlExporter } from './postgresql.ts';
import { at, batchOf, numberMetric } from './testdata/batches.ts';

describe('postgresql exporter lifecycle', () => {
  it('shuts down without start, and twice', async () => {
    const exporter = new PostgresqlExporter(
      createTestSettings('postgresql', 'exporter'),
      configSchema.parse({}),
    );
    await exporter.shutdown();
    await exporter.shutdown();
  });

  it('describes where it writes, never with the password', () => {
    const settings = createTestSettings('postgresql', 'exporter');
    const exporter = new PostgresqlExporter(
      settings,
      configSchema.parse({
        endpoint: 'postgresql://kw:hunter2@db.site:5433/kwdb',
        sending_queue: { storage: 'file', directory: '/var/lib/q' },
      }),
    );
    expect(exporter.describe()).toBe(
      'PostgreSQL db.site:5433/kwdb (kwollect metrics table), queue in /var/lib/q',
    );
    expect(
      new PostgresqlExporter(settings, configSchema.parse({ db_host: '/var/run/postgresql' })).describe(),
    ).toBe('PostgreSQL /var/run/postgresql (socket, port 5432)/kwdb (kwollect metrics table), memory queue');
  });
});

describe('postgresql exporter counting', () => {
  const exportBatch = (exporter: PostgresqlExporter, batch: ResourceMetrics): Promise<ExportResult> =>
    new Promise((resolve) => {
      exporter.export(batch, resolve);
    });

  it('a point left out, in a batch later dropped from a full queue, is counted once: failed', async () => {
    // Nothing listens on the port: every send fails and is retried, the batches wait.
    const settings = createTestSettings('postgresql', 'exporter');
    const exporter = new PostgresqlExporter(
      settings,
      configSchema.parse({
        db_host: '127.0.0.1',
        db_port: await freePort(),
        sending_queue: { queue_size: 3 },
        retry_on_failure: { initial_interval: '10s', max_elapsed_time: 0 },
      }),
    );
    const time = at('2020-01-06T14:00:00Z');
    const first = batchOf([
      numberMetric('power', [
        { attributes: { device_id: 'node-1' }, value: 1, time },
        { attributes: { device_id: 'node-2' }, value: 2, time },
        { attributes: { device_id: 'node-3' }, value: Number.NaN, time },
      ]),
    ]);
    const second = batchOf([
      numberMetric('power', [
        { attributes: { device_id: 'node-1' }, value: 3, time },
        { attributes: { device_id: 'node-2' }, value: 4, time },
      ]),
    ]);
    try {
      await exporter.start();
      expect((await exportBatch(exporter, first)).code).toBe(ExportResultCode.SUCCESS);
      // The point left out is counted at once and not queued.
      expect(settings.telemetry.counts.failed).toBe(1);
      expect(exporter.status().queuedPoints).toBe(2);
      await poll('the first send failed', 30_000, () =>
        Promise.resolve(exporter.status().inFlight === 0 ? true : undefined),
      );
      // 2 + 2 points exceed queue_size 3: the oldest batch goes, its 2 points dropped.
      expect((await exportBatch(exporter, second)).code).toBe(ExportResultCode.SUCCESS);
      expect(settings.telemetry.counts.dropped.get('queue_full')).toBe(2);
      expect(settings.telemetry.counts.failed).toBe(1);
      expect(exporter.status().queuedPoints).toBe(2);
    } finally {
      await exporter.shutdown();
    }
  });
});
