import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, MetricDescriptor, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { Exemplar } from '../../kit/exemplars.ts';
import { withInt64 } from '../../kit/int64.ts';
import type { ExpositionFormat, ExpositionOptions } from '../../kit/prometheus/exposition.ts';
import { renderExposition } from '../../kit/prometheus/exposition.ts';
import { SeriesLineCache } from './series-lines.ts';
import { SeriesStore } from './store.ts';
import { AWKWARD_VALUE, createKnownBatches } from './testdata/fixtures/known-batch.ts';

const EXACT = 2n ** 63n - 1n;
const START: HrTime = [1_795_370_400, 0];
const at = (step: number): HrTime => [1_795_370_400 + step, 123_456_789 + step];
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function descriptor(name: string, unit = '', valueType = ValueType.DOUBLE): MetricDescriptor {
  return { name, description: `${name} help with a \\ and "quotes"\nand a second line`, unit, valueType };
}

/**
 * A receiver's output as the SDK hands it over: the same resource, scope, descriptor and
 * attributes objects at every collection, new points with new values.
 */
function numbersSource(): (step: number, extra?: boolean) => ResourceMetrics[] {
  const host = resourceFromAttributes({
    'service.name': 'agent',
    'service.instance.id': 'a-1',
    region: 'eu',
  });
  const pdu = resourceFromAttributes({
    'service.name': 'snmp',
    'host.name': 'pdu-1',
    'device.model': AWKWARD_VALUE,
  });
  const scope = { name: 'inframeter/procfs', version: '0.1.0' };
  const cpu = descriptor('system.cpu.time', 's');
  const bytes = descriptor('system.memory.usage', 'By', ValueType.INT);
  const util = descriptor('system.cpu.utilization', '1');
  const packets = descriptor('system.network.packet.count', '{packet}', ValueType.INT);
  const requests = descriptor('http.requests', '{request}', ValueType.INT);
  const power = descriptor('hw.power', 'W');
  const newcomer = descriptor('late.gauge');
  const modes: Attributes[] = ['user', 'system', 'idle'].map((mode) => ({ 'cpu.mode': mode, cpu: '0' }));
  const awkward: Attributes = { 'weird key!': AWKWARD_VALUE, empty: '' };
  const none: Attributes = {};
  const outlet: Attributes = { outlet: '1' };
  const point = (attributes: Attributes, value: number, step: number, exemplars?: Exemplar[]) => ({
    startTime: START,
    endTime: at(step),
    attributes,
    value,
    ...(exemplars === undefined ? {} : { exemplars }),
  });
  const sum = (d: MetricDescriptor, monotonic: boolean, points: MetricData['dataPoints']): MetricData =>
    ({
      descriptor: d,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: monotonic,
      dataPoints: points,
    }) as MetricData;
  const gauge = (d: MetricDescriptor, points: MetricData['dataPoints']): MetricData =>
    ({
      descriptor: d,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points,
    }) as MetricData;
  return (step, extra = false) => {
    const exemplar: Exemplar = {
      filteredAttributes: { user: `u${String(step)}` },
      value: step + 0.5,
      timestamp: step % 2 === 0 ? at(step) : undefined,
      traceId: TRACE,
      spanId: SPAN,
    };
    const hostMetrics: MetricData[] = [
      sum(
        cpu,
        true,
        modes.map((m, i) => point(m, 1000.25 * (step + 1) + i, step)),
      ),
      // Exact 64-bit-range integers as JavaScript holds them, and the edges of a double.
      sum(bytes, false, [
        point(awkward, Number.MAX_SAFE_INTEGER - step, step),
        point(none, 2 ** 63 + step * 4096, step),
        // An integer beyond 2^53 that arrived exact (kit/int64.ts): written in full digits.
        withInt64(point(outlet, Number(EXACT - BigInt(step)), step), EXACT - BigInt(step)),
      ]),
      gauge(util, [
        point(modes[0] ?? none, step === 1 ? Number.NaN : 0.1 * step, step),
        point(modes[1] ?? none, step === 2 ? Infinity : -0, step),
        point(modes[2] ?? none, step === 2 ? -Infinity : 1e-7 * step, step),
      ]),
      sum(packets, true, [point(none, 17 * step, step)]),
      sum(requests, true, [
        point(outlet, 3 * step, step, step === 0 ? [] : [{ ...exemplar, value: 0.25 }, exemplar]),
      ]),
    ];
    if (extra) hostMetrics.push(gauge(newcomer, [point(none, step, step)]));
    return [
      { resource: host, scopeMetrics: [{ scope, metrics: hostMetrics }] },
      {
        resource: pdu,
        scopeMetrics: [
          {
            scope: { name: 'inframeter/snmp' },
            metrics: [gauge(power, [point(outlet, 230.5 + step, step)])],
          },
        ],
      },
    ];
  };
}

const FORMATS: ExpositionFormat[] = ['text', 'openmetrics'];
const OPTION_SETS: ExpositionOptions[] = [
  {},
  { timestamps: true },
  {
    namespace: 'infra',
    constLabels: { site: 'lab "A"', empty: '' },
    resourceToTelemetry: true,
    addMetricSuffixes: false,
    scopeLabels: false,
    timestamps: true,
  },
];

/** The cached rendering against the plain one over the same store, at every step, in both formats. */
function expectSameAsPlain(
  batchesAt: (step: number) => ResourceMetrics[],
  steps: number,
  options: ExpositionOptions,
  clock: { now: number } = { now: 0 },
): SeriesLineCache {
  const store = new SeriesStore(60_000, () => clock.now);
  const cached = new SeriesLineCache(store, options);
  for (let step = 0; step < steps; step += 1) {
    for (const batch of batchesAt(step)) store.ingest(batch);
    for (const format of FORMATS) {
      const plain = renderExposition(store.snapshot(), { ...options, format });
      expect(cached.render(format)).toBe(plain);
      // Twice: the second rendering uses what the first one kept.
      expect(cached.render(format)).toBe(plain);
      // The bytes a scrape sends, twice as well (the second into the buffer the first filled).
      expect(Buffer.from(cached.renderBytes(format)).toString('utf8')).toBe(plain);
      expect(Buffer.from(cached.renderBytes(format)).toString('utf8')).toBe(plain);
    }
  }
  return cached;
}

describe('SeriesLineCache', () => {
  it.each(OPTION_SETS)('renders gauges and counters byte for byte as the plain rendering (%o)', (options) => {
    const cached = expectSameAsPlain(numbersSource(), 5, options);
    expect(cached.isPlanned('text')).toBe(true);
    expect(cached.isPlanned('openmetrics')).toBe(true);
    expect(cached.render('text')).toContain(` ${String(EXACT - 4n)}`);
  });

  it('follows series that come and go (a new metric, then expiry)', () => {
    const source = numbersSource();
    const clock = { now: 0 };
    const store = new SeriesStore(60_000, () => clock.now);
    const options: ExpositionOptions = { timestamps: true };
    const cached = new SeriesLineCache(store, options);
    const check = (): void => {
      for (const format of FORMATS) {
        const plain = renderExposition(store.snapshot(), { ...options, format });
        expect(cached.render(format)).toBe(plain);
        expect(Buffer.from(cached.renderBytes(format)).toString('utf8')).toBe(plain);
      }
    };
    for (const batch of source(0)) store.ingest(batch);
    check();
    for (const batch of source(1, true)) store.ingest(batch);
    check();
    expect(cached.render('text')).toContain('late_gauge ');
    clock.now = 30_000;
    for (const batch of source(2)) store.ingest(batch);
    check();
    clock.now = 70_000;
    check();
    expect(cached.render('text')).not.toContain('late_gauge ');
    expect(cached.isPlanned('text')).toBe(true);
  });

  it('adds up delta counters in place and renders them as the plain rendering', () => {
    const d = descriptor('jobs.done', '{job}', ValueType.INT);
    const resource = resourceFromAttributes({ 'service.name': 'svc' });
    const attributes = { queue: 'a' };
    const delta = (step: number): ResourceMetrics[] => [
      {
        resource,
        scopeMetrics: [
          {
            scope: { name: 's' },
            metrics: [
              {
                descriptor: d,
                aggregationTemporality: AggregationTemporality.DELTA,
                dataPointType: DataPointType.SUM,
                isMonotonic: true,
                dataPoints: [{ startTime: at(step), endTime: at(step + 1), attributes, value: step + 1 }],
              },
            ],
          },
        ],
      },
    ];
    const cached = expectSameAsPlain(delta, 4, {});
    expect(cached.render('text')).toContain('jobs_done_total{job="svc",otel_scope_name="s",queue="a"} 10\n');
    expect(cached.isPlanned('text')).toBe(true);
  });

  it('renders histograms, summaries, exponential histograms and exemplars in full, byte for byte', () => {
    const known = (step: number): ResourceMetrics[] => {
      const batches = createKnownBatches(at(step));
      const first = batches[0]?.scopeMetrics[0];
      if (first === undefined) throw new Error('known batch changed');
      const summaryPoint = (attributes: Attributes, value: number) => ({
        startTime: START,
        endTime: at(step),
        attributes,
        value,
      });
      const exemplar: Exemplar = {
        filteredAttributes: { user: 'b' },
        value: 0.7,
        timestamp: at(step),
        traceId: TRACE,
        spanId: SPAN,
      };
      first.metrics = first.metrics.map((m) =>
        m.dataPointType === DataPointType.HISTOGRAM
          ? { ...m, dataPoints: m.dataPoints.map((p) => ({ ...p, exemplars: [exemplar] })) }
          : m,
      );
      first.metrics.push(
        {
          descriptor: descriptor('rpc.latency', 's'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: [
            summaryPoint({ quantile: '0.5', route: '/a' }, 0.1 * step),
            summaryPoint({ quantile: '0.99', route: '/a' }, 0.9 * step),
          ],
        },
        {
          descriptor: descriptor('rpc.latency.sum', 's'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: false,
          dataPoints: [summaryPoint({ route: '/a' }, 12.5 * step)],
        },
        {
          descriptor: descriptor('rpc.latency.count', ''),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: [summaryPoint({ route: '/a' }, 40 * step)],
        },
      );
      return batches;
    };
    for (const options of OPTION_SETS) {
      const cached = expectSameAsPlain(known, 3, options);
      expect(cached.isPlanned('text')).toBe(false);
    }
  });
});
