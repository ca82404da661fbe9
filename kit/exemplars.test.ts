import { describe, expect, it } from 'vitest';
import {
  exemplarsOf,
  fromPrometheusExemplar,
  toPrometheusExemplarLabels,
  withExemplars,
} from './exemplars.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('exemplars on points', () => {
  it('withExemplars attaches them to a copy; exemplarsOf reads them back', () => {
    const point = { attributes: {}, value: 1 };
    const exemplar = { filteredAttributes: { a: 'b' }, value: 0.5, timestamp: undefined };
    const carried = withExemplars(point, [exemplar]);
    expect(carried).not.toBe(point);
    expect(exemplarsOf(carried)).toEqual([exemplar]);
    expect(exemplarsOf(point)).toEqual([]);
    expect(withExemplars(point, [])).toBe(point);
  });

  it('exemplarsOf skips what is not an exemplar', () => {
    const good = { filteredAttributes: {}, value: 2, timestamp: [1, 2] };
    const point = {
      exemplars: [
        good,
        null,
        { value: 'x', filteredAttributes: {} },
        { value: 1, filteredAttributes: {}, timestamp: 'now' },
      ],
    };
    expect(exemplarsOf(point)).toEqual([good]);
    expect(exemplarsOf({ exemplars: 'none' })).toEqual([]);
  });
});

describe('Prometheus exemplars', () => {
  it('trace_id and span_id become the ids when they are OpenTelemetry ids, the rest attributes', () => {
    expect(
      fromPrometheusExemplar({ trace_id: TRACE, span_id: SPAN, user: 'u' }, 0.67, 1520879602890),
    ).toEqual({
      filteredAttributes: { user: 'u' },
      value: 0.67,
      timestamp: [1520879602, 890_000_000],
      traceId: TRACE,
      spanId: SPAN,
    });
    expect(
      fromPrometheusExemplar({ trace_id: 'KOO5S4vxi0o', span_id: SPAN.toUpperCase() }, 1, undefined),
    ).toEqual({
      filteredAttributes: { trace_id: 'KOO5S4vxi0o', span_id: SPAN.toUpperCase() },
      value: 1,
      timestamp: undefined,
    });
  });

  it('gives back the labels it was made of', () => {
    for (const labels of [{ trace_id: TRACE, span_id: SPAN, user: 'u' }, { trace_id: 'KOO5S4vxi0o' }, {}]) {
      const exemplar = fromPrometheusExemplar(labels, 1, undefined);
      expect(Object.fromEntries(toPrometheusExemplarLabels(exemplar))).toEqual(labels);
    }
  });
});
