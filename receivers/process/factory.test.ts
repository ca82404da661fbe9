import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { MetricSink } from '../../kit/component.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { processFactory } from './factory.ts';
import { toGolden } from './testdata/golden.ts';

const synthetic = join(import.meta.dirname, 'testdata', 'fixtures', 'synthetic');

describe('processFactory', () => {
  it('shuts down without start, and twice', async () => {
    const receiver = processFactory.create(
      createTestSettings('process', 'receiver'),
      processFactory.configSchema.parse({}),
    );
    await receiver.shutdown();
    await receiver.shutdown();
  });

  it('scrapes a root_path on its schedule and pushes one batch per scrape', async () => {
    const settings = createTestSettings('process/fixture', 'receiver');
    const receiver = processFactory.create(
      settings,
      processFactory.configSchema.parse({ root_path: synthetic, collection_interval: '20ms' }),
    );
    const batches: ResourceMetrics[] = [];
    let arrived: () => void = () => undefined;
    const twoBatches = new Promise<void>((resolve) => (arrived = resolve));
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        if (batches.length === 2) arrived();
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    await receiver.start(sink);
    await twoBatches;
    await receiver.shutdown();
    await receiver.shutdown();
    const [first] = batches;
    expect(first?.resource.attributes['host.name']).toBe('test-host');
    const threads = toGolden(first as ResourceMetrics).find((m) => m.name === 'process.thread.count');
    expect(threads?.points.map((p) => p.attributes['process.pid'])).toEqual([1, 300, 301, 400, 500, 600]);
    expect(settings.telemetry.counts.scrapes).toBeGreaterThanOrEqual(2);
  });
});
