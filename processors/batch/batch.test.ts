import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { countPoints } from '../../kit/metrics-data.ts';
import { parse as parseYaml } from 'yaml';
import { zodProblems } from '../../service/config.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { batchConfigSchema } from './config.ts';
import { BatchProcessor } from './processor.ts';

function batch(host: string, scope: string, name: string, points: number): ResourceMetrics {
  const metric = {
    descriptor: { name, description: '', unit: '1', valueType: ValueType.DOUBLE },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: Array.from({ length: points }, (_, i) => ({
      startTime: [0, 0],
      endTime: [1, 0],
      attributes: { i },
      value: i,
    })),
  } as MetricData;
  return {
    resource: resourceFromAttributes({ 'host.name': host }),
    scopeMetrics: [{ scope: { name: scope }, metrics: [metric] }],
  };
}

function recorder(fail = false) {
  const sent: ResourceMetrics[] = [];
  return {
    sent,
    sink: {
      export(b: ResourceMetrics, cb: (r: ExportResult) => void) {
        sent.push(b);
        cb(
          fail
            ? { code: ExportResultCode.FAILED, error: new Error('backend down') }
            : { code: ExportResultCode.SUCCESS },
        );
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  };
}

const results = (p: BatchProcessor, b: ResourceMetrics): Promise<ExportResult> =>
  new Promise((resolve) => {
    p.export(b, resolve);
  });

describe('BatchProcessor', () => {
  it('sends at send_batch_size, merging batches of one resource and scope', async () => {
    const { sent, sink } = recorder();
    const p = new BatchProcessor(
      createTestSettings('batch', 'processor'),
      batchConfigSchema.parse({ send_batch_size: 10, timeout: '1h' }),
      sink,
    );
    const first = results(p, batch('a', 's', 'm1', 4));
    const second = results(p, batch('a', 's', 'm2', 6));
    expect(await first).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await second).toEqual({ code: ExportResultCode.SUCCESS });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.scopeMetrics.map((s) => [s.scope.name, s.metrics.map((m) => m.descriptor.name)])).toEqual(
      [['s', ['m1', 'm2']]],
    );
    await p.shutdown();
  });

  it('keeps resources apart, and sends on timeout', async () => {
    const { sent, sink } = recorder();
    const p = new BatchProcessor(
      createTestSettings('batch', 'processor'),
      batchConfigSchema.parse({ send_batch_size: 1000, timeout: '20ms' }),
      sink,
    );
    await Promise.all([
      results(p, batch('a', 's', 'm', 2)),
      results(p, batch('b', 's', 'm', 3)),
      results(p, batch('a', 't', 'm', 1)),
    ]);
    expect(
      sent.map((b) => [
        b.resource.attributes['host.name'],
        b.scopeMetrics.map((s) => s.scope.name),
        countPoints(b),
      ]),
    ).toEqual([
      ['a', ['s', 't'], 3],
      ['b', ['s'], 3],
    ]);
  });

  it('splits above send_batch_max_size, every point once, in order', async () => {
    const { sent, sink } = recorder();
    const p = new BatchProcessor(
      createTestSettings('batch', 'processor'),
      batchConfigSchema.parse({ send_batch_size: 5, send_batch_max_size: 5 }),
      sink,
    );
    await results(p, batch('a', 's', 'm', 12));
    expect(sent.map(countPoints)).toEqual([5, 5, 2]);
    const values = sent.flatMap((b) =>
      b.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.map((d) => d.value))),
    );
    expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('reports a failed export to every sender of the batch; flushes on shutdown', async () => {
    const { sent, sink } = recorder(true);
    const p = new BatchProcessor(
      createTestSettings('batch', 'processor'),
      batchConfigSchema.parse({ timeout: '1h' }),
      sink,
    );
    const pending = results(p, batch('a', 's', 'm', 3));
    expect(sent).toHaveLength(0);
    await p.shutdown();
    expect(sent).toHaveLength(1);
    expect((await pending).code).toBe(ExportResultCode.FAILED);
  });

  it('rejects a max size below the batch size, naming the key', () => {
    const r = batchConfigSchema.safeParse({ send_batch_size: 100, send_batch_max_size: 10 });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.path).toEqual(['send_batch_max_size']);
  });
});

describe('batch config', () => {
  it.each([
    ['bad-max-size.yaml', 'send_batch_max_size: must be 0 or at least send_batch_size'],
    ['bad-timeout.yaml', 'timeout: '],
  ])('%s names the key', (file, message) => {
    const raw = parseYaml(
      readFileSync(join(import.meta.dirname, 'testdata', 'config', file), 'utf8'),
    ) as unknown;
    const result = batchConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (!result.success) expect(zodProblems(result.error, []).join('\n')).toContain(message);
  });
});
