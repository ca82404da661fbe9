import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema as csvConfig } from '../exporters/csv/config.ts';
import { CsvExporter } from '../exporters/csv/csv.ts';
import { configSchema as prometheusConfig } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { relabelConfigSchema } from '../processors/relabel/config.ts';
import { RelabelProcessor } from '../processors/relabel/processor.ts';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import type { MetricSink } from '../kit/component.ts';
import { missing } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * A batch holding every point type the SDK has, a summary in the kit's shape, and two
 * malformed points (a histogram point whose value is a number, as a scale factor applied
 * blindly makes it; a gauge point whose value is an object), scaled by 2 by the relabel
 * processor, then written by the csv and prometheus exporters: every well-formed point
 * arrives, scaled as its type wants (bounds and sums scaled, counts not); the malformed ones
 * are counted and left out; the CSV file loads in pandas and the exposition passes promtool.
 */

const PYTHON = '/usr/bin/python3';
const noPandas =
  !existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import pandas'], { timeout: 60_000 }).status !== 0;
if (noPandas && process.env.CI !== undefined)
  throw new Error(`${PYTHON} with pandas is missing (python3-pandas)`);
const noPromtool = missing('promtool', 'prometheus');

const START: HrTime = [1_795_000_000, 0];
const END: HrTime = [1_795_000_060, 0];

function numbers(
  name: string,
  type: DataPointType.GAUGE | DataPointType.SUM,
  points: [Record<string, string>, number][],
  options: { monotonic?: boolean; valueType?: ValueType; unit?: string } = {},
): MetricData {
  const base = {
    descriptor: {
      name,
      description: `${name} help`,
      unit: options.unit ?? '',
      valueType: options.valueType ?? ValueType.DOUBLE,
    },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: points.map(([attributes, value]) => ({ startTime: START, endTime: END, attributes, value })),
  };
  return type === DataPointType.GAUGE
    ? { ...base, dataPointType: DataPointType.GAUGE }
    : { ...base, dataPointType: DataPointType.SUM, isMonotonic: options.monotonic ?? true };
}

function batch(): ResourceMetrics {
  const histogram: MetricData = {
    descriptor: { name: 'latency', description: 'latency help', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        startTime: START,
        endTime: END,
        attributes: { route: '/a' },
        value: { buckets: { boundaries: [0.1, 1], counts: [3, 2, 1] }, count: 6, sum: 4.5 },
      },
    ],
  };
  const exponential: MetricData = {
    descriptor: { name: 'sizes', description: 'sizes help', unit: 'By', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
    dataPoints: [
      {
        startTime: START,
        endTime: END,
        attributes: {},
        value: {
          count: 3,
          sum: 30,
          scale: 0,
          zeroCount: 0,
          positive: { offset: 2, bucketCounts: [1, 2] },
          negative: { offset: 0, bucketCounts: [] },
        },
      },
    ],
  };
  // What a scale factor applied to every value makes of a histogram point: a number.
  const broken: MetricData = {
    ...histogram,
    descriptor: { ...histogram.descriptor, name: 'broken' },
    dataPoints: [
      { startTime: START, endTime: END, attributes: {}, value: Number.NaN as unknown as Histogram },
    ],
  };
  const strange = numbers('strange', DataPointType.GAUGE, [[{}, 1]]);
  (strange.dataPoints as DataPoint<unknown>[])[0] = {
    startTime: START,
    endTime: END,
    attributes: {},
    value: { a: 1 },
  };
  return {
    resource: resourceFromAttributes({
      'service.name': 'lab',
      'service.instance.id': 'node-1',
      'host.name': 'node-1',
    }),
    scopeMetrics: [
      {
        scope: { name: 'test', version: '1.0.0' },
        metrics: [
          numbers('temperature', DataPointType.GAUGE, [[{ room: 'a' }, 21.5]], { unit: 'Cel' }),
          numbers('queue_length', DataPointType.GAUGE, [[{}, 7]], { valueType: ValueType.INT }),
          numbers('requests', DataPointType.SUM, [[{ code: '200' }, 10]]),
          numbers('in_flight', DataPointType.SUM, [[{}, 3]], { monotonic: false }),
          histogram,
          exponential,
          broken,
          strange,
          numbers('rpc_seconds', DataPointType.GAUGE, [
            [{ quantile: '0.5' }, 0.25],
            [{ quantile: '0.99' }, 2],
          ]),
          numbers('rpc_seconds.sum', DataPointType.SUM, [[{}, 40]], { monotonic: false }),
          numbers('rpc_seconds.count', DataPointType.SUM, [[{}, 100]], { valueType: ValueType.INT }),
        ],
      },
    ],
  };
}

async function exportThrough(sink: MetricSink, data: ResourceMetrics): Promise<ExportResultCode> {
  return new Promise((resolve) => {
    sink.export(data, (result) => {
      resolve(result.code);
    });
  });
}

describe('every point type through relabel scaling, csv and prometheus; a malformed point costs only itself', () => {
  let dir = '';
  const csvSettings = createTestSettings('csv', 'exporter');
  const promSettings = createTestSettings('prometheus', 'exporter');
  let csvPath = '';
  let exposition = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-every-point-'));
    csvPath = join(dir, 'metrics.csv');
    const csv = new CsvExporter(csvSettings, csvConfig.parse({ path: csvPath, flush_interval: 0 }));
    const prometheus = new PrometheusExporter(
      promSettings,
      prometheusConfig.parse({ endpoint: '127.0.0.1:0' }),
    );
    await csv.start();
    const fanOut: MetricSink = {
      export: (data, callback) => {
        void Promise.all([exportThrough(csv, data), exportThrough(prometheus, data)]).then((codes) => {
          callback({
            code: codes.every((c) => c === ExportResultCode.SUCCESS)
              ? ExportResultCode.SUCCESS
              : ExportResultCode.FAILED,
          });
        });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const relabel = new RelabelProcessor(
      createTestSettings('relabel', 'processor'),
      relabelConfigSchema.parse({ metrics: [{ match: '.*', scale_factor: 2 }] }),
      fanOut,
    );
    expect(await exportThrough(relabel, batch())).toBe(ExportResultCode.SUCCESS);
    await csv.shutdown();
    exposition = prometheus.render('text');
    await prometheus.shutdown();
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('each exporter counts the two malformed points as dropped and writes the rest', () => {
    expect(csvSettings.telemetry.counts.dropped.get('malformed_point')).toBe(2);
    expect(promSettings.telemetry.counts.dropped.get('malformed_point')).toBe(2);
  });

  it('the exposition: scaled as each type wants, summaries as summaries', () => {
    const samples = new Map(
      parseExposition(exposition, 'out').flatMap((f) =>
        f.samples.map((s) => {
          const labels = Object.entries(s.labels)
            .filter(([k]) => !['job', 'instance', 'otel_scope_name', 'otel_scope_version'].includes(k))
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          return [`${s.name}{${labels}}`, s.value] as const;
        }),
      ),
    );
    expect(Object.fromEntries([...samples].filter(([k]) => !k.startsWith('target_info')))).toEqual({
      'temperature_celsius{room=a}': 43,
      'queue_length{}': 14,
      'requests_total{code=200}': 20,
      'in_flight{}': 6,
      'latency_seconds_bucket{route=/a,le=0.2}': 3,
      'latency_seconds_bucket{route=/a,le=2}': 5,
      'latency_seconds_bucket{route=/a,le=+Inf}': 6,
      'latency_seconds_sum{route=/a}': 9,
      'latency_seconds_count{route=/a}': 6,
      'rpc_seconds{quantile=0.5}': 0.5,
      'rpc_seconds{quantile=0.99}': 4,
      'rpc_seconds_sum{}': 80,
      'rpc_seconds_count{}': 100,
    });
    expect(exposition).toContain('# TYPE rpc_seconds summary\n');
  });

  it.skipIf(noPromtool)('promtool check metrics accepts the exposition', () => {
    const file = join(dir, 'exposition.txt');
    writeFileSync(file, exposition);
    const run = spawnSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it.skipIf(noPandas)('pandas reads the CSV file: every well-formed point, scaled as its type wants', () => {
    const run = spawnSync(
      PYTHON,
      [
        '-c',
        `
import json, sys
import pandas as pd
df = pd.read_csv(sys.argv[1])
print(json.dumps(sorted([[r.metric, r.type, r.attributes, r.value] for r in df.itertuples()])))
`,
        csvPath,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(
      [
        ['in_flight', 'updowncounter', '{}', 6],
        ['latency.bucket', 'histogram', '{"le":"+Inf","route":"/a"}', 6],
        ['latency.bucket', 'histogram', '{"le":"0.2","route":"/a"}', 3],
        ['latency.bucket', 'histogram', '{"le":"2","route":"/a"}', 5],
        ['latency.count', 'histogram', '{"route":"/a"}', 6],
        ['latency.sum', 'histogram', '{"route":"/a"}', 9],
        ['queue_length', 'gauge', '{}', 14],
        ['requests', 'counter', '{"code":"200"}', 20],
        ['rpc_seconds', 'gauge', '{"quantile":"0.5"}', 0.5],
        ['rpc_seconds', 'gauge', '{"quantile":"0.99"}', 4],
        ['rpc_seconds.count', 'counter', '{}', 100],
        ['rpc_seconds.sum', 'updowncounter', '{}', 80],
        ['sizes.count', 'exponential_histogram', '{}', 3],
        ['sizes.sum', 'exponential_histogram', '{}', 60],
        ['temperature', 'gauge', '{"room":"a"}', 43],
      ].sort(),
    );
  });
});
