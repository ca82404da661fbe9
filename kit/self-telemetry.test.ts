import { resourceFromAttributes } from '@opentelemetry/resources';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { CODE_SIZE_REFRESH_MS, CodeSize, SelfTelemetry } from './self-telemetry.ts';

/** The points of `inframeter.process.memory.usage` by memory type, from one collection. */
async function memoryUsage(telemetry: SelfTelemetry): Promise<Map<string, number>> {
  const { resourceMetrics } = await telemetry.reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === 'inframeter.process.memory.usage');
  if (metric === undefined) throw new Error('no inframeter.process.memory.usage');
  return new Map(
    (metric.dataPoints as DataPoint<number>[]).map((p) => [String(p.attributes['memory.type']), p.value]),
  );
}

describe('code size', () => {
  it('asks V8 once per refresh period, and again once the period has passed', () => {
    let now = 0;
    const reads: number[] = [];
    const size = new CodeSize(
      () => now,
      () => {
        reads.push(now);
        return 1000 + reads.length;
      },
      60_000,
    );
    expect(size.bytes()).toBe(1001);
    now = 59_999;
    expect(size.bytes()).toBe(1001);
    now = 60_000;
    expect(size.bytes()).toBe(1002);
    now = 60_001;
    expect(size.bytes()).toBe(1002);
    expect(reads).toEqual([0, 60_000]);
  });

  it("reads V8's code statistics by default: a positive size, the same within the period", () => {
    const size = new CodeSize();
    const first = size.bytes();
    expect(first).toBeGreaterThan(0);
    expect(size.bytes()).toBe(first);
    expect(CODE_SIZE_REFRESH_MS).toBe(60_000);
  });
});

describe('self-telemetry memory usage', () => {
  it('reports the code size it is given, read once for collections within the period', async () => {
    let reads = 0;
    const telemetry = new SelfTelemetry(
      resourceFromAttributes({}),
      new CodeSize(
        () => 0,
        () => {
          reads += 1;
          return 4242;
        },
      ),
    );
    const first = await memoryUsage(telemetry);
    const second = await memoryUsage(telemetry);
    expect(first.get('code')).toBe(4242);
    expect(second.get('code')).toBe(4242);
    expect(reads).toBe(1);
    expect([...first.keys()].sort()).toEqual([
      'array_buffers',
      'code',
      'external',
      'heap_total',
      'heap_used',
    ]);
    expect(first.get('heap_used')).toBeGreaterThan(0);
  });
});
