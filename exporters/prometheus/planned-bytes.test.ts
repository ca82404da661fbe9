import { ValueType } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { Exemplar } from '../../kit/exemplars.ts';
import { planExposition, renderExposition, renderPlanned } from '../../kit/prometheus/exposition.ts';
import { PlanBuffers, PlannedBytes } from './planned-bytes.ts';

const START: HrTime = [1_795_370_400, 0];
const END: HrTime = [1_795_370_460, 250_000_000];

/** One counter with `n` series, each point with the exemplars given. */
function counter(n: number, value: number, exemplars: Exemplar[] = []): ResourceMetrics {
  const dataPoints: DataPoint<number>[] = [];
  for (let i = 0; i < n; i += 1) {
    dataPoints.push({
      startTime: START,
      endTime: END,
      attributes: { device: `dëv-${String(i)}` },
      value: value + i,
      exemplars,
    } as DataPoint<number>);
  }
  return {
    resource: resourceFromAttributes({ 'service.name': 'agent', 'host.name': 'nöde-1' }),
    scopeMetrics: [
      {
        scope: { name: 'inframeter/procfs' },
        metrics: [
          {
            descriptor: { name: 'io.ops', description: 'Öperations', unit: '', valueType: ValueType.INT },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints,
          },
        ],
      },
    ],
  };
}

const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');

const holdersOf = (batch: ResourceMetrics) =>
  (batch.scopeMetrics[0]?.metrics[0]?.dataPoints ?? []).map((point) => ({
    point: point as DataPoint<number>,
  }));

describe('PlannedBytes', () => {
  it('writes the bytes of the planned text, again and again into its buffer, growing it for longer values', () => {
    const plan = planExposition([counter(20, 1)], { format: 'openmetrics', timestamps: true });
    if (plan === undefined) throw new Error('no plan');
    const bytes = new PlannedBytes(plan);
    const holders = (batch: ResourceMetrics) =>
      (batch.scopeMetrics[0]?.metrics[0]?.dataPoints ?? []).map((point) => ({
        point: point as DataPoint<number>,
      }));
    // Short values, then values far longer than the room first made for them: an exemplar of
    // 127 label characters (60 of them two bytes in UTF-8) on every sample.
    const exemplar: Exemplar = {
      filteredAttributes: { user: 'é'.repeat(60) },
      value: 0.125,
      timestamp: END,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    };
    for (const batch of [counter(20, 1), counter(20, 1.5e300, [exemplar]), counter(20, 7)]) {
      const expected = renderPlanned(plan, holders(batch));
      expect(expected).toContain('dëv-19');
      expect(text(bytes.render(holders(batch)))).toBe(expected);
    }
    expect(text(bytes.render(holders(counter(20, 1.5e300, [exemplar]))))).toContain(
      ` # {span_id="00f067aa0ba902b7",trace_id="4bf92f3577b34da6a3ce929d0e0e4736",user="${'é'.repeat(60)}"}`,
    );
  });

  it('writes a sample without labels as `name value`, byte for byte the full rendering', () => {
    const batch: ResourceMetrics = {
      resource: resourceFromAttributes({}),
      scopeMetrics: [
        {
          scope: { name: '' },
          metrics: [
            {
              descriptor: { name: 'load', description: 'Lœad', unit: '', valueType: ValueType.DOUBLE },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints: [{ startTime: START, endTime: END, attributes: {}, value: 0.25 }],
            },
          ],
        },
      ],
    };
    for (const format of ['text', 'openmetrics'] as const) {
      const plan = planExposition([batch], { format });
      if (plan === undefined) throw new Error('no plan');
      const full = renderExposition([batch], { format });
      expect(full).toContain('\nload 0.25\n');
      expect(text(new PlannedBytes(plan).render(holdersOf(batch)))).toBe(full);
    }
  });

  it('gives undefined when a point no longer holds a number', () => {
    const plan = planExposition([counter(2, 1)], {});
    if (plan === undefined) throw new Error('no plan');
    const point = { startTime: START, endTime: END, attributes: {}, value: { count: 1 } };
    expect(new PlannedBytes(plan).render([{ point: point as unknown as DataPoint<number> }])).toBeUndefined();
  });

  it('renders a later plan into the buffers of the one before, the same bytes as a plan of its own', () => {
    const buffers = new PlanBuffers();
    const rendered: Uint8Array[] = [];
    // Series come and go as the process receiver's top processes change: 200, 190, 210, 200.
    for (const n of [200, 190, 210, 200]) {
      const batch = counter(n, n);
      const plan = planExposition([batch], { timestamps: true });
      if (plan === undefined) throw new Error('no plan');
      const bytes = new PlannedBytes(plan, buffers).render(holdersOf(batch));
      expect(text(bytes)).toBe(renderPlanned(plan, holdersOf(batch)));
      expect(text(bytes)).toBe(text(new PlannedBytes(plan).render(holdersOf(batch))));
      if (bytes === undefined) throw new Error('not rendered');
      rendered.push(bytes);
    }
    // The first plan's buffer had room for the others (values up to 32 bytes were allowed for).
    expect(new Set(rendered.map((bytes) => bytes.buffer)).size).toBe(1);
  });

  it('does not keep buffers four times larger than a later plan needs', () => {
    const buffers = new PlanBuffers();
    const render = (n: number): Uint8Array | undefined => {
      const batch = counter(n, 1);
      const plan = planExposition([batch], {});
      if (plan === undefined) throw new Error('no plan');
      return new PlannedBytes(plan, buffers).render(holdersOf(batch));
    };
    const large = render(1000)?.buffer;
    const small = render(10);
    expect(small?.buffer).not.toBe(large);
    expect(small?.buffer.byteLength).toBeLessThan(4096);
    expect(text(small)).toContain('dëv-9"');
  });
});
