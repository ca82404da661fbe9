import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { Exemplar } from '../../kit/exemplars.ts';
import type { ExpositionOptions } from '../../kit/prometheus/exposition.ts';
import {
  ExpositionCache,
  formatGoFloat,
  formatValue,
  renderExposition,
} from '../../kit/prometheus/exposition.ts';
import { withInt64 } from '../../kit/int64.ts';
import { parseExposition } from '../../receivers/prometheus/parse/exposition.ts';
import { END, START, createKnownBatches } from './testdata/fixtures/known-batch.ts';

const golden = join(import.meta.dirname, 'testdata/golden');

/** Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it. */
function expectGolden(file: string, actual: string): void {
  const path = join(golden, file);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  expect(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

function render(
  batches: ResourceMetrics[],
  options: ExpositionOptions = {},
): { text: string; problems: string[] } {
  const problems: string[] = [];
  const text = renderExposition(batches, { ...options, onProblem: (p) => problems.push(p) });
  return { text, problems };
}

function gauge(
  name: string,
  value: number,
  attributes: Record<string, string> = {},
  unit = '',
  endTime: HrTime = END,
): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ startTime: START, endTime, attributes, value }],
  };
}

function counter(
  name: string,
  value: number,
  attributes: Record<string, string> = {},
  unit = '',
): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: [{ startTime: START, endTime: END, attributes, value }],
  };
}

function batch(
  attributes: Record<string, string>,
  metrics: MetricData[],
  scope = { name: 's' },
): ResourceMetrics {
  return { resource: resourceFromAttributes(attributes), scopeMetrics: [{ scope, metrics }] };
}

describe('renderExposition on the known batches', () => {
  it('writes the text format 0.0.4 (golden)', () => {
    const { text, problems } = render(createKnownBatches());
    expectGolden('known-batch.txt', text);
    expect(problems).toEqual([
      'rpc.server.duration: exponential histograms have no text exposition (Prometheus needs native histograms over protobuf); dropped',
    ]);
  });

  it('writes OpenMetrics 1.0.0 with timestamps (golden)', () => {
    const { text } = render(createKnownBatches(), { format: 'openmetrics', timestamps: true });
    expectGolden('known-batch.openmetrics.txt', text);
  });

  it('writes each family once, HELP and TYPE first, with the series of every resource together', () => {
    const { text } = render(createKnownBatches());
    const lines = text.split('\n');
    const types = lines.filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    const start = lines.indexOf('# TYPE system_cpu_time_seconds_total counter');
    expect(lines[start - 1]).toBe('# HELP system_cpu_time_seconds_total CPU time by mode.');
    expect(lines.slice(start + 1, start + 4).map((l) => l.replace(/\{.*\}/, '{…}'))).toEqual([
      'system_cpu_time_seconds_total{…} 98.25',
      'system_cpu_time_seconds_total{…} 1234.5',
      'system_cpu_time_seconds_total{…} 7',
    ]);
    expect(lines[start + 4]).toMatch(/^# HELP system_cpu_utilization_ratio /);
  });

  it('gives the same text whatever the order of resources in the input', () => {
    const [a, b] = createKnownBatches();
    expect(render([b!, a!]).text).toBe(render([a!, b!]).text);
  });

  it('writes OpenMetrics counters as _total samples of a family named without it, and ends with # EOF', () => {
    const { text } = render(createKnownBatches(), { format: 'openmetrics' });
    expect(text).toContain(
      '# HELP system_cpu_time_seconds CPU time by mode.\n# TYPE system_cpu_time_seconds counter\n# UNIT system_cpu_time_seconds seconds\nsystem_cpu_time_seconds_total{',
    );
    expect(text).toContain('# TYPE target info\ntarget_info{');
    expect(text).not.toMatch(/^system_cpu_time_seconds\{/m);
    expect(text.endsWith('\n# EOF\n')).toBe(true);
  });
});

describe('renderExposition with a cache', () => {
  it('renders what a fresh rendering does, as values change and series come and go', () => {
    const resource = resourceFromAttributes({ 'service.name': 'svc', 'host.name': 'h1', zone: 'eu' });
    const scope = { name: 's', version: '1' };
    const cpu = { cpu: '0', mode: 'idle' };
    const descriptor = { name: 'cpu.time', description: 'CPU', unit: 's', valueType: ValueType.DOUBLE };
    const at = (value: number, attributes: Record<string, string>[]): ResourceMetrics => ({
      resource,
      scopeMetrics: [
        {
          scope,
          metrics: [
            {
              descriptor,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              dataPoints: attributes.map((a) => ({ startTime: START, endTime: END, attributes: a, value })),
            },
          ],
        },
      ],
    });
    const options: ExpositionOptions = { constLabels: { site: 'x' }, namespace: 'ns' };
    const cache = new ExpositionCache();
    const first = renderExposition([at(1, [cpu])], options, cache);
    expect(first).toContain('ns_cpu_time_seconds_total{cpu="0",instance="h1",job="svc",mode="idle"');
    expect(first).toBe(renderExposition([at(1, [cpu])], options));
    for (const [value, attributes] of [
      [2, [cpu]],
      [3, [cpu, { cpu: '1', mode: 'user' }]],
      [4, [{ cpu: '1', mode: 'user' }]],
    ] as const) {
      const batches = [at(value, [...attributes])];
      expect(renderExposition(batches, { ...options, format: 'openmetrics' }, cache)).toBe(
        renderExposition(batches, { ...options, format: 'openmetrics' }),
      );
      expect(renderExposition(batches, options, cache)).toBe(renderExposition(batches, options));
    }
  });
});

describe('renderExposition options', () => {
  const host = {
    'service.name': 'inframeter',
    'service.instance.id': 'i-1',
    'host.name': 'n1',
    'os.type': 'linux',
  };

  it('renders nothing but # EOF for no data', () => {
    expect(renderExposition([])).toBe('');
    expect(renderExposition([], { format: 'openmetrics' })).toBe('# EOF\n');
    expect(renderExposition([batch(host, [])])).toBe('');
  });

  it('prefixes names with the namespace, but not target_info', () => {
    const { text } = render([batch(host, [counter('system.cpu.time', 1, {}, 's')])], {
      namespace: 'inframeter',
    });
    expect(text).toContain(
      '\ninframeter_system_cpu_time_seconds_total{instance="i-1",job="inframeter",otel_scope_name="s"} 1\n',
    );
    expect(text).toContain(
      '\ntarget_info{host_name="n1",instance="i-1",job="inframeter",os_type="linux"} 1\n',
    );
  });

  it('adds const labels to every series except target_info; the series labels win', () => {
    const { text } = render([batch(host, [gauge('g', 1, { zone: 'a' })])], {
      constLabels: { zone: 'default', region: 'eu' },
      scopeLabels: false,
    });
    expect(text).toBe(
      [
        '# HELP target_info Target metadata',
        '# TYPE target_info gauge',
        'target_info{host_name="n1",instance="i-1",job="inframeter",os_type="linux"} 1',
        '# HELP g g help',
        '# TYPE g gauge',
        'g{instance="i-1",job="inframeter",region="eu",zone="a"} 1',
        '',
      ].join('\n'),
    );
  });

  it('copies resource attributes to every series with resource_to_telemetry_conversion', () => {
    const { text } = render([batch(host, [gauge('g', 1, { 'os.type': 'mine' })])], {
      resourceToTelemetry: true,
      scopeLabels: false,
      targetInfo: false,
    });
    expect(text).toBe(
      '# HELP g g help\n# TYPE g gauge\ng{host_name="n1",instance="i-1",job="inframeter",os_type="mine",service_instance_id="i-1",service_name="inframeter"} 1\n',
    );
  });

  it('leaves names as they are without suffixes, except _total samples in OpenMetrics', () => {
    const batches = [
      batch({}, [counter('system.cpu.time', 2, {}, 's'), gauge('cpu.utilization', 0.5, {}, '1')]),
    ];
    const text = render(batches, { addMetricSuffixes: false, scopeLabels: false }).text;
    expect(text).toBe(
      '# HELP cpu_utilization cpu.utilization help\n# TYPE cpu_utilization gauge\ncpu_utilization 0.5\n' +
        '# HELP system_cpu_time system.cpu.time help\n# TYPE system_cpu_time counter\nsystem_cpu_time 2\n',
    );
    const om = render(batches, { addMetricSuffixes: false, scopeLabels: false, format: 'openmetrics' }).text;
    expect(om).toContain('# TYPE system_cpu_time counter\nsystem_cpu_time_total 2\n');
    expect(om).not.toContain('# UNIT');
  });

  it('writes timestamps in milliseconds (text) and seconds (OpenMetrics), never on target_info', () => {
    const batches = [batch(host, [gauge('g', 1)])];
    expect(render(batches, { timestamps: true, scopeLabels: false }).text).toContain(
      '\ng{instance="i-1",job="inframeter"} 1 1795370400123\n',
    );
    const om = render(batches, { timestamps: true, scopeLabels: false, format: 'openmetrics' }).text;
    expect(om).toContain('\ng{instance="i-1",job="inframeter"} 1 1795370400.123\n');
    expect(om).toContain('os_type="linux"} 1\n');
  });

  it('writes no target_info for a resource with nothing beyond job and instance, or without series', () => {
    const only = { 'service.name': 'x', 'service.instance.id': 'y' };
    expect(render([batch(only, [gauge('g', 1)])]).text).not.toContain('target_info');
    expect(render([batch(host, [])]).text).toBe('');
  });

  it('spells special values as Prometheus does', () => {
    expect([NaN, Infinity, -Infinity, 0, -0.5, 1e21, 1.5e-7, 8_123_456_789].map(formatValue)).toEqual([
      'NaN',
      '+Inf',
      '-Inf',
      '0',
      '-0.5',
      '1e+21',
      '1.5e-7',
      '8123456789',
    ]);
  });

  it('writes an exact integer beyond 2^53 (kit/int64.ts) in full digits, in both formats', () => {
    const big = counter('big', 2 ** 63);
    const exact = {
      ...big,
      dataPoints: big.dataPoints.map((p) => withInt64(p as DataPoint<number>, 2n ** 63n - 1n)),
    } as MetricData;
    const host = { 'service.name': 'svc' };
    for (const format of ['text', 'openmetrics'] as const)
      expect(render([batch(host, [exact])], { format }).text).toContain(
        'big_total{job="svc",otel_scope_name="s"} 9223372036854775807\n',
      );
    // Without it, the double's shortest text.
    expect(render([batch(host, [big])]).text).toContain(
      'big_total{job="svc",otel_scope_name="s"} 9223372036854776000\n',
    );
  });

  it('writes a histogram whose boundaries end in +Inf with a single +Inf bucket', () => {
    const histogram: MetricData = {
      descriptor: { name: 'h', description: '', unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          startTime: START,
          endTime: END,
          attributes: { le: 'mine' },
          value: { buckets: { boundaries: [1, Infinity], counts: [1, 2, 0] }, count: 3 },
        },
      ],
    };
    expect(render([batch({}, [histogram])], { scopeLabels: false }).text).toBe(
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 3\nh_count 3\n',
    );
  });
});

describe('renderExposition conflicts', () => {
  it("drops a metric whose samples would have the name of another type's, and says so", () => {
    const { text, problems } = render([
      batch({ 'host.name': 'a' }, [gauge('load_total', 1)]),
      batch({ 'host.name': 'b' }, [counter('load', 2)]),
    ]);
    expect(text).toContain('\nload_total{instance="a",otel_scope_name="s"} 1\n');
    expect(text).not.toContain('instance="b"');
    expect(problems).toEqual([
      'load: exposed as load_total (counter) but load_total already is load_total (gauge); dropped',
    ]);
  });

  it('keeps a gauge x and a counter x (samples x_total) as two families, as the Go client library writes them', () => {
    const { text, problems } = render([batch({ 'host.name': 'a' }, [gauge('load', 1), counter('load', 2)])]);
    expect(text).toContain('# TYPE load gauge\nload{instance="a",otel_scope_name="s"} 1\n');
    expect(text).toContain('# TYPE load_total counter\nload_total{instance="a",otel_scope_name="s"} 2\n');
    expect(problems).toEqual([]);
  });

  it('keeps the first description when two metrics of one family disagree', () => {
    const first = gauge('g', 1, { k: 'a' });
    const second = {
      ...gauge('g', 2, { k: 'b' }),
      descriptor: { ...first.descriptor, description: 'other' },
    };
    const { text, problems } = render([batch({}, [first]), batch({ 'host.name': 'b' }, [second])]);
    expect(text.match(/# HELP g /g)).toHaveLength(1);
    expect(text).toContain('# HELP g g help\n');
    expect(problems).toEqual(['g: descriptions differ ("g help", "other"); the first is kept']);
  });

  it('exposes the latest of two series that end up with the same labels', () => {
    const older = gauge('g', 1);
    const newer = gauge('g', 2, {}, '', [END[0] + 10, 0]);
    const { text, problems } = render([
      batch({ 'host.name': 'n', 'os.type': 'linux' }, [newer]),
      batch({ 'host.name': 'n', 'os.type': 'windows' }, [older]),
    ]);
    expect(text).toContain('\ng{instance="n",otel_scope_name="s"} 2\n');
    expect(text).not.toContain('} 1\ng');
    expect(problems).toContain(
      'g{instance="n",otel_scope_name="s"} comes from more than one resource or scope; the latest point is exposed',
    );
    expect(problems).toContain(
      'target_info{instance="n"}: several resources share this job and instance; the first one\'s attributes are exposed',
    );
  });

  it('reserves target_info for resource attributes', () => {
    const { text, problems } = render([batch({ 'host.name': 'n', a: 'b' }, [gauge('target.info', 5)])]);
    expect(text).toBe('');
    expect(problems).toEqual([
      'target.info: the name target_info is reserved for resource attributes; dropped',
    ]);
  });
});

describe('renderExposition exemplars (kit/exemplars.ts)', () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const span = '00f067aa0ba902b7';
  const withExemplars = (metric: MetricData, exemplars: Exemplar[]): MetricData =>
    ({
      ...metric,
      dataPoints: metric.dataPoints.map((p) => ({ ...p, exemplars })),
    }) as MetricData;
  const histogram = (exemplars: Exemplar[]): MetricData =>
    withExemplars(
      {
        descriptor: { name: 'h', description: '', unit: '', valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: [
          {
            startTime: START,
            endTime: END,
            attributes: {},
            value: { buckets: { boundaries: [0.1, 1, 10], counts: [8, 3, 6, 1] }, count: 18, sum: 40 },
          },
        ],
      },
      exemplars,
    );
  const options = { scopeLabels: false, format: 'openmetrics' as const };

  it('writes a counter exemplar after its _total sample, ids as trace_id and span_id, time in seconds', () => {
    const c = withExemplars(counter('c', 17), [
      { filteredAttributes: { user: 'a' }, value: 0.5, timestamp: undefined },
      {
        filteredAttributes: { user: 'b' },
        value: 0.67,
        timestamp: [1520879602, 890_000_000],
        traceId: trace,
        spanId: span,
      },
    ]);
    expect(render([batch({}, [c])], options).text).toBe(
      `# HELP c c help\n# TYPE c counter\nc_total 17 # {span_id="${span}",trace_id="${trace}",user="b"} 0.67 1520879602.89\n# EOF\n`,
    );
  });

  it('puts each exemplar on the bucket its value falls in, the largest of several; none on the others', () => {
    const e = (value: number, id: string): Exemplar => ({
      filteredAttributes: { id },
      value,
      timestamp: undefined,
    });
    const text = render(
      [batch({}, [histogram([e(0.054, 'a'), e(0.5, 'b'), e(0.9, 'c'), e(99, 'd')])])],
      options,
    ).text;
    expect(text).toBe(
      [
        '# TYPE h histogram',
        'h_bucket{le="0.1"} 8 # {id="a"} 0.054',
        'h_bucket{le="1"} 11 # {id="c"} 0.9',
        'h_bucket{le="10"} 17',
        'h_bucket{le="+Inf"} 18 # {id="d"} 99',
        'h_sum 40',
        'h_count 18',
        '# EOF',
        '',
      ].join('\n'),
    );
    // What OpenMetrics parsers read back.
    expect(parseExposition(text, 'om', true)[0]?.samples.map((s) => s.exemplar?.labels.id)).toEqual([
      'a',
      'c',
      undefined,
      'd',
      undefined,
      undefined,
    ]);
  });

  it('writes none in the text format, on gauges, or when the labels exceed 128 characters', () => {
    const one: Exemplar[] = [{ filteredAttributes: {}, value: 1, timestamp: undefined, traceId: trace }];
    const metrics = [withExemplars(counter('c', 1), one), withExemplars(gauge('g', 1), one), histogram(one)];
    expect(render([batch({}, metrics)], { scopeLabels: false }).text).not.toContain(trace);
    const om = render([batch({}, metrics)], options).text;
    expect(om).toContain(`c_total 1 # {trace_id="${trace}"} 1\n`);
    expect(om).toContain('\ng 1\n');
    const long = [{ filteredAttributes: { note: 'x'.repeat(125) }, value: 1, timestamp: undefined }];
    expect(render([batch({}, [withExemplars(counter('c', 1), long)])], options).text).toContain(
      'c_total 1\n',
    );
  });
});

describe('formatGoFloat', () => {
  it("writes numbers as Go's strconv.FormatFloat(v, 'g', -1, 64), as bucket bounds are written", () => {
    expect(
      [1e6, 1638400, 0.005, 1e-5, 100000, 1.5, 123456789, -2.5e-7, 0.0001, 1e21, 10, 0].map(formatGoFloat),
    ).toEqual([
      '1e+06',
      '1.6384e+06',
      '0.005',
      '1e-05',
      '100000',
      '1.5',
      '1.23456789e+08',
      '-2.5e-07',
      '0.0001',
      '1e+21',
      '10',
      '0',
    ]);
  });
});
