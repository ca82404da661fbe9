import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { exemplarsOf } from '../../kit/exemplars.ts';
import { zodProblems } from '../../service/config.ts';
import { renderMetricTable, TABLE_END, TABLE_START } from '../../kit/metadata.ts';
import { configSchema } from './config.ts';
import { toMetrics } from './convert.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { prometheusReceiverMetadata } from './metadata.ts';
import { parseExposition } from './parse/exposition.ts';
import { PrometheusReceiver } from './receiver.ts';

const here = import.meta.dirname;
const fixture = (name: string): string => readFileSync(join(here, 'testdata', 'fixtures', name), 'utf8');

describe('parsing', () => {
  it('reads the text format: types, help, escapes, NaN, +Inf, timestamps', () => {
    const families = parseExposition(fixture('text-0.0.4.txt'), 't');
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['http_requests_total', 'counter', 2],
      ['request_seconds', 'histogram', 5],
      ['rpc_seconds', 'summary', 4],
      ['temperature', 'gauge', 2],
      ['free_space', 'untyped', 1],
    ]);
    expect(families[0]?.help).toBe('Requests "served", by code\nand method.');
    expect(families[0]?.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { code: '200', method: 'get' },
      value: 1027,
      timestamp: 1395066363000,
    });
    expect(families[3]?.samples.map((s) => [s.labels.room, s.value])).toEqual([
      ['a "quoted" \\ room', 21.5],
      ['nowhere', Number.NaN],
    ]);
    expect(families[4]?.samples[0]?.value).toBe(Infinity);
  });

  it('reads OpenMetrics: units, _total and _created, timestamps in seconds, exemplars, # EOF', () => {
    const [energy, up] = parseExposition(fixture('openmetrics-1.0.txt'), 'o', true);
    expect(energy).toMatchObject({ name: 'acme_energy_joules', type: 'counter', unit: 'joules' });
    expect(energy?.samples.map((s) => [s.name, s.value, s.timestamp])).toEqual([
      ['acme_energy_joules_total', 123.5, 1795000000250],
      ['acme_energy_joules_created', 1794990000, undefined],
    ]);
    expect(energy?.samples[0]?.exemplar?.value).toBe(2.5);
    expect(up?.samples[0]?.value).toBe(1);
  });

  it('names the line of what is not the format', () => {
    expect(() => parseExposition('ok 1\n<html><body>Login</body></html>\n', 'http://x/metrics')).toThrow(
      'http://x/metrics:2: column 1: expected a metric name',
    );
    expect(() => parseExposition('a{b="c} 1\n', 's')).toThrow(
      's:1: column 10: unterminated value of label b',
    );
    expect(() => parseExposition('a 1 2 3\n', 's')).toThrow('s:1: column 7: expected # and an exemplar');
    expect(() => parseExposition('a one\n', 's')).toThrow('s:1: column 3: value "one" is not a number');
    expect(() => parseExposition('# TYPE a countr\n', 's')).toThrow('s:1: unknown metric type "countr"');
  });
});

describe('conversion to OpenTelemetry', () => {
  const byName = (metrics: MetricData[]) => new Map(metrics.map((m) => [m.descriptor.name, m]));
  const families = parseExposition(fixture('text-0.0.4.txt'), 't');
  const all = byName(families.flatMap((f) => toMetrics(f, 1_795_000_000_000, 1_794_000_000_000)));

  it('counters: monotonic cumulative sums named as the exporter named them, exporter timestamps kept', () => {
    const m = all.get('http_requests_total');
    expect(m?.dataPointType).toBe(DataPointType.SUM);
    expect(m?.dataPointType === DataPointType.SUM && m.isMonotonic).toBe(true);
    expect(m?.dataPoints[0]?.endTime).toEqual([1395066363, 0]);
  });

  it('histograms: per-bucket counts from cumulative buckets', () => {
    const m = all.get('request_seconds');
    expect(m?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const value = (m?.dataPoints[0] as DataPoint<Histogram> | undefined)?.value;
    expect(value).toEqual({
      buckets: { boundaries: [0.05, 0.1], counts: [24054, 9390, 110876] },
      count: 144320,
      sum: 53423,
    });
  });

  it('summaries: quantiles as a gauge, .sum and .count as sums (kit/summary.ts)', () => {
    expect(all.get('rpc_seconds')?.dataPoints.map((p) => [p.attributes.quantile, p.value])).toEqual([
      ['0.5', 4773],
      ['0.99', 76656],
    ]);
    expect(all.get('rpc_seconds.sum')?.dataPoints[0]?.value).toBe(1.7560473e7);
    expect(all.get('rpc_seconds.count')?.dataPoints[0]?.value).toBe(2693);
  });

  it('untyped samples and gauges: gauges stamped with the scrape time', () => {
    expect(all.get('free_space')?.dataPointType).toBe(DataPointType.GAUGE);
    expect(all.get('temperature')?.dataPoints[0]?.endTime).toEqual([1795000000, 0]);
  });

  it('OpenMetrics counters: the unit in UCUM, _created as the start time', () => {
    const [energy] = parseExposition(fixture('openmetrics-1.0.txt'), 'o', true);
    const metrics = energy === undefined ? [] : toMetrics(energy, 0, 0);
    expect(metrics).toHaveLength(1);
    const [m] = metrics;
    expect(m?.descriptor).toMatchObject({ name: 'acme_energy_joules_total', unit: 'J' });
    expect(m?.dataPoints.map((p) => p.value)).toEqual([123.5]);
    expect(m?.dataPoints[0]?.startTime).toEqual([1794990000, 0]);
    expect(m?.dataPoints[0]?.endTime).toEqual([1795000000, 250_000_000]);
  });
});

describe('config', () => {
  it('bad-target.yaml names the key', () => {
    const r = configSchema.safeParse(
      parseYaml(readFileSync(join(here, 'testdata', 'config', 'bad-target.yaml'), 'utf8')),
    );
    expect(r.success).toBe(false);
    if (!r.success) expect(zodProblems(r.error, []).join('\n')).toContain('targets[0]');
  });

  it('README metric table is current (`npm run docs` rewrites it)', () => {
    expect(readFileSync(join(here, 'README.md'), 'utf8')).toContain(
      `${TABLE_START}\n${renderMetricTable(prometheusReceiverMetadata)}\n${TABLE_END}`,
    );
  });
});

describe('conversion of the OpenMetrics-only types', () => {
  const convert = (text: string) =>
    parseExposition(text, 'o', true).flatMap((f) =>
      toMetrics(f, 1_795_000_000_000, 1_794_000_000_000, { rack: 'r7' }),
    );

  it('info and stateset: non-monotonic sums; unknown: a gauge; target labels on every point', () => {
    const metrics = convert(
      '# TYPE build info\nbuild_info{version="1.2"} 1\n# TYPE mode stateset\nmode{mode="a"} 1\nmode{mode="b"} 0\n# TYPE t unknown\nt 3\n# EOF\n',
    );
    expect(
      metrics.map((m) => [
        m.descriptor.name,
        m.dataPointType,
        m.dataPointType === DataPointType.SUM ? m.isMonotonic : undefined,
        m.dataPoints.map((p) => [p.attributes, p.value]),
      ]),
    ).toEqual([
      ['build_info', DataPointType.SUM, false, [[{ rack: 'r7', version: '1.2' }, 1]]],
      [
        'mode',
        DataPointType.SUM,
        false,
        [
          [{ rack: 'r7', mode: 'a' }, 1],
          [{ rack: 'r7', mode: 'b' }, 0],
        ],
      ],
      ['t', DataPointType.GAUGE, undefined, [[{ rack: 'r7' }, 3]]],
    ]);
  });

  it('gaugehistogram: _bucket, _gcount and _gsum each kept, as gauges', () => {
    const metrics = convert(
      '# TYPE q gaugehistogram\nq_bucket{le="1"} 2\nq_bucket{le="+Inf"} 5\nq_gcount 5\nq_gsum 7.5\n# EOF\n',
    );
    expect(
      metrics.map((m) => [m.descriptor.name, m.dataPointType, m.dataPoints.map((p) => p.value)]),
    ).toEqual([
      ['q_bucket', DataPointType.GAUGE, [2, 5]],
      ['q_gcount', DataPointType.GAUGE, [5]],
      ['q_gsum', DataPointType.GAUGE, [7.5]],
    ]);
  });

  it('histograms start at _created; units become UCUM', () => {
    const [h] = convert(
      '# TYPE d_seconds histogram\n# UNIT d_seconds seconds\nd_seconds_bucket{le="1"} 1\nd_seconds_bucket{le="+Inf"} 2\nd_seconds_count 2\nd_seconds_sum 1.5\nd_seconds_created 1794999000.5\n# EOF\n',
    );
    expect(h?.descriptor.unit).toBe('s');
    expect(h?.dataPoints[0]?.startTime).toEqual([1794999000, 500_000_000]);
    expect((h?.dataPoints[0] as DataPoint<Histogram> | undefined)?.value).toEqual({
      buckets: { boundaries: [1], counts: [1, 1] },
      count: 2,
      sum: 1.5,
    });
  });
});

describe('exemplars (kit/exemplars.ts)', () => {
  const convert = (text: string) =>
    parseExposition(text, 'o', true).flatMap((f) => toMetrics(f, 1_795_000_000_000, 1_794_000_000_000));

  it('a counter total keeps its exemplar: trace_id as the trace id, the time in an HrTime', () => {
    const [m] = convert(fixture('openmetrics-1.0.txt'));
    expect(m?.dataPoints.map((p) => exemplarsOf(p))).toEqual([
      [
        {
          filteredAttributes: {},
          value: 2.5,
          timestamp: [1794999999, 500_000_000],
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        },
      ],
    ]);
  });

  it("a histogram point gathers its buckets' exemplars; a trace_id that is no trace id stays a label", () => {
    // The OpenMetrics specification's histogram example with exemplars.
    const [h] = convert(
      [
        '# TYPE foo histogram',
        'foo_bucket{le="0.01"} 0',
        'foo_bucket{le="0.1"} 8 # {} 0.054',
        'foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67',
        'foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0",span_id="00f067aa0ba902b7"} 9.8 1520879607.789',
        'foo_bucket{le="+Inf"} 17',
        'foo_count 17',
        'foo_sum 324789.3',
        'foo_created 1520430000.123',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(h?.dataPoints.map((p) => exemplarsOf(p))).toEqual([
      [
        { filteredAttributes: {}, value: 0.054, timestamp: undefined },
        { filteredAttributes: { trace_id: 'KOO5S4vxi0o' }, value: 0.67, timestamp: undefined },
        {
          filteredAttributes: { trace_id: 'oHg5SJYRHA0' },
          value: 9.8,
          timestamp: [1520879607, 789_000_000],
          spanId: '00f067aa0ba902b7',
        },
      ],
    ]);
  });

  it('gauges, info and the text format carry none', () => {
    const metrics = convert('# TYPE b info\nb_info{v="1"} 1\n# TYPE g gauge\ng 1\n# EOF\n');
    expect(metrics.flatMap((m) => m.dataPoints.map((p) => exemplarsOf(p)))).toEqual([[], []]);
  });
});

describe('target_info', () => {
  /** A receiver whose target answers `body` with `contentType`. */
  const scrape = async (body: string, contentType: string) => {
    const receiver = new PrometheusReceiver(
      createTestSettings('prometheus', 'receiver'),
      configSchema.parse({ targets: ['http://10.0.0.5:9100/metrics'], job: 'node' }),
      () => Promise.resolve(new Response(body, { headers: { 'content-type': contentType } })),
    );
    const [batch] = await receiver.scrapeAll();
    return batch;
  };
  const names = (batch: Awaited<ReturnType<typeof scrape>>) =>
    batch?.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));

  it("OpenMetrics: the info family target becomes the resource's attributes, job and instance aside", async () => {
    const batch = await scrape(
      '# TYPE target info\ntarget_info{env="prod",job="x",instance="y",hostname="n1",region="eu-west"} 1\n# TYPE a gauge\na 1\n# EOF\n',
      'application/openmetrics-text; version=1.0.0',
    );
    expect(batch?.resource.attributes).toMatchObject({
      env: 'prod',
      hostname: 'n1',
      region: 'eu-west',
      'service.name': 'node',
      'service.instance.id': '10.0.0.5:9100',
      'server.address': '10.0.0.5',
    });
    expect(batch?.resource.attributes).not.toHaveProperty('job');
    expect(batch?.resource.attributes).not.toHaveProperty('instance');
    expect(names(batch)).toEqual(['a', 'up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
    const samples = batch?.scopeMetrics[0]?.metrics.find(
      (m) => m.descriptor.name === 'scrape_samples_scraped',
    );
    expect(samples?.dataPoints[0]?.value).toBe(2);
  });

  it('the text format: a target_info gauge does the same; its labels never replace service.name', async () => {
    const batch = await scrape(
      '# TYPE target_info gauge\ntarget_info{env="dev","service.name"="mine"} 1\nb 2\n',
      'text/plain; version=0.0.4',
    );
    expect(batch?.resource.attributes).toMatchObject({ env: 'dev', 'service.name': 'node' });
    expect(names(batch)).toEqual(['b', 'up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
  });
});
