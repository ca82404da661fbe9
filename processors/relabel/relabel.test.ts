import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Exemplar } from '../../kit/exemplars.ts';
import { exemplarsOf, withExemplars } from '../../kit/exemplars.ts';
import { zodProblems } from '../../service/config.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { relabelConfigSchema, ruleSchema } from './config.ts';
import { PointLabels, RelabelProcessor } from './processor.ts';
import { applyRules, hashmod } from './rules.ts';
import type { Labels } from './rules.ts';

const rules = (list: unknown[]) => list.map((r) => ruleSchema.parse(r));
const run = (list: unknown[], labels: Record<string, string>): Record<string, string> | undefined => {
  const set: Labels = new Map(Object.entries(labels));
  return applyRules(rules(list), set) ? Object.fromEntries(set) : undefined;
};

// Expected outputs are Prometheus's own (model/relabel tests and documentation).
describe('Prometheus relabel semantics', () => {
  const abc = { a: 'foo', b: 'bar', c: 'baz' };

  it('replace with groups in the replacement and the target', () => {
    expect(
      run([{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', replacement: 'ch${1}-ch${1}' }], {
        a: 'foo',
      }),
    ).toEqual({ a: 'foo', d: 'choo-choo' });
    expect(
      run(
        [{ source_labels: ['a', 'b'], regex: 'f(.*);(.*)r', target_label: 'a', replacement: 'b${1}${2}m' }],
        { a: 'foo', b: 'bar' },
      ),
    ).toEqual({ a: 'boobam', b: 'bar' });
    expect(
      run(
        [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}' }],
        { a: 'some-name-value' },
      ),
    ).toEqual({ a: 'some-name-value', name: 'value' });
    // A target that expands to nothing is invalid: the label set is unchanged.
    expect(
      run(
        [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', target_label: '${3}', replacement: '${2}' }],
        { a: 'some-name-0' },
      ),
    ).toEqual({ a: 'some-name-0' });
  });

  it('replace: the regex is fully anchored; no match changes nothing; an empty result deletes', () => {
    expect(
      run([{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar' }], { a: 'boo' }),
    ).toEqual({ a: 'boo' });
    expect(
      run([{ source_labels: ['a'], regex: 'o', target_label: 'b', replacement: 'x' }], { a: 'foo' }),
    ).toEqual({ a: 'foo' });
    expect(
      run([{ source_labels: ['a'], regex: '(.*)', target_label: 'a', replacement: '' }], {
        a: 'foo',
        b: 'x',
      }),
    ).toEqual({ b: 'x' });
    expect(run([{ source_labels: ['missing'], target_label: 'e', replacement: 'set' }], { a: 'x' })).toEqual({
      a: 'x',
      e: 'set',
    });
  });

  it('keep and drop', () => {
    expect(run([{ source_labels: ['a'], regex: 'f.*', action: 'drop' }], abc)).toBeUndefined();
    expect(run([{ source_labels: ['a'], regex: 'f.*', action: 'keep' }], abc)).toEqual(abc);
    expect(run([{ source_labels: ['a'], regex: 'o.*', action: 'keep' }], abc)).toBeUndefined();
  });

  it('hashmod: md5, last 8 bytes, modulo', () => {
    expect(run([{ source_labels: ['c'], target_label: 'd', action: 'hashmod', modulus: 1000 }], abc)).toEqual(
      { ...abc, d: '976' },
    );
    expect(hashmod('baz', 1000)).toBe(976);
  });

  it('labelmap, labeldrop, labelkeep', () => {
    expect(
      run([{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }], {
        a: 'foo',
        b1: 'bar',
        b2: 'baz',
      }),
    ).toEqual({ a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' });
    expect(run([{ regex: '(b.*)', action: 'labeldrop' }], { a: 'foo', b1: 'bar', b2: 'baz' })).toEqual({
      a: 'foo',
    });
    expect(run([{ regex: '(b.*)', action: 'labelkeep' }], { a: 'foo', b1: 'bar', b2: 'baz' })).toEqual({
      b1: 'bar',
      b2: 'baz',
    });
  });

  it('lowercase and uppercase', () => {
    expect(
      run([{ source_labels: ['foo'], target_label: 'foo_lower', action: 'lowercase' }], { foo: 'bAr123Foo' }),
    ).toEqual({ foo: 'bAr123Foo', foo_lower: 'bar123foo' });
    expect(
      run([{ source_labels: ['foo'], target_label: 'foo_upper', action: 'uppercase' }], { foo: 'bAr123Foo' }),
    ).toEqual({ foo: 'bAr123Foo', foo_upper: 'BAR123FOO' });
  });
});

describe('relabel config', () => {
  it.each([
    ['bad-regex.yaml', 'metric_relabel_configs[0].regex: invalid regular expression "(idle|"'],
    ['bad-hashmod.yaml', 'metric_relabel_configs[0].modulus: required for action hashmod'],
  ])('%s names the key', (file, message) => {
    const raw = parseYaml(
      readFileSync(join(import.meta.dirname, 'testdata', 'config', file), 'utf8'),
    ) as unknown;
    const result = relabelConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (!result.success) expect(zodProblems(result.error, []).join('\n')).toContain(message);
  });
});

function gauge(name: string, points: [number, Record<string, string | number>][]): MetricData {
  const metric: MetricData = {
    descriptor: { name, description: '', unit: 'W', valueType: ValueType.DOUBLE },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: points.map(([value, attributes]) => ({
      startTime: [0, 0],
      endTime: [1, 0],
      attributes,
      value,
    })),
  };
  return metric;
}

function batchOf(...metrics: MetricData[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'node-1', rack: 'r7' }),
    scopeMetrics: [{ scope: { name: 's' }, metrics }],
  };
}

const flat = (b: ResourceMetrics | undefined) =>
  b?.scopeMetrics.flatMap((s) =>
    s.metrics.flatMap((m) => m.dataPoints.map((p) => [m.descriptor.name, p.attributes, p.value])),
  ) ?? [];

describe('RelabelProcessor', () => {
  const make = (config: unknown) => {
    const settings = createTestSettings('relabel', 'processor');
    const sink = {
      export: () => undefined,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    return { p: new RelabelProcessor(settings, relabelConfigSchema.parse(config), sink), settings };
  };

  it('renames through __name__, reads resource labels, drops points, keeps attribute types', () => {
    const { p, settings } = make({
      metric_relabel_configs: [
        { source_labels: ['__name__'], regex: 'hw\\.(.*)', target_label: '__name__', replacement: 'pdu.$1' },
        { source_labels: ['__resource_rack'], target_label: 'rack' },
        { source_labels: ['outlet'], regex: '3', action: 'drop' },
      ],
    });
    const out = p.transform(
      batchOf(
        gauge('hw.power', [
          [10, { outlet: 1 }],
          [20, { outlet: 3 }],
        ]),
      ),
    );
    expect(flat(out)).toEqual([['pdu.power', { outlet: 1, rack: 'r7' }, 10]]);
    expect(settings.telemetry.counts.dropped.get('relabel')).toBe(1);
  });

  it('per metric: rename with groups, scale, static labels; include and exclude by name', () => {
    const { p } = make({
      include_metrics: ['hw\\..*', 'system\\.cpu\\..*'],
      exclude_metrics: ['system\\.cpu\\.utilization'],
      metrics: [
        { match: 'hw\\.(power)', rename: 'kwollect.$1', scale_factor: 0.001, labels: { site: 'lyon' } },
      ],
    });
    const out = p.transform(
      batchOf(
        gauge('hw.power', [[1500, {}]]),
        gauge('system.cpu.utilization', [[0.5, {}]]),
        gauge('system.memory.usage', [[1, {}]]),
        gauge('system.cpu.time', [[7, {}]]),
      ),
    );
    expect(flat(out)).toEqual([
      ['kwollect.power', { site: 'lyon' }, 1.5],
      ['system.cpu.time', {}, 7],
    ]);
  });

  it('a summary follows the rules of its name: quantiles and sum scaled and renamed, count only renamed', () => {
    const { p } = make({ metrics: [{ match: 'rpc', rename: 'rpc_ms', scale_factor: 1000 }] });
    const sum = (name: string, value: number, monotonic: boolean): MetricData => ({
      descriptor: { name, description: '', unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: monotonic,
      dataPoints: [{ startTime: [0, 0], endTime: [1, 0], attributes: {}, value }],
    });
    const out = p.transform(
      batchOf(
        gauge('rpc', [[0.25, { quantile: '0.5' }]]),
        sum('rpc.sum', 40, false),
        sum('rpc.count', 100, true),
      ),
    );
    expect(flat(out)).toEqual([
      ['rpc_ms', { quantile: '0.5' }, 250],
      ['rpc_ms.sum', {}, 40_000],
      ['rpc_ms.count', {}, 100],
    ]);
  });

  it('exponential histograms: scaled exactly by a power of two (offsets shift), dropped and counted otherwise', () => {
    const exponential = (name: string): MetricData => ({
      descriptor: { name, description: '', unit: 'By', valueType: ValueType.DOUBLE },
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: [
        {
          startTime: [0, 0],
          endTime: [1, 0],
          attributes: {},
          value: {
            count: 3,
            sum: 30,
            scale: 1,
            zeroCount: 0,
            positive: { offset: 2, bucketCounts: [1, 2] },
            negative: { offset: 0, bucketCounts: [] },
          },
        },
      ],
    });
    const { p, settings } = make({
      metrics: [
        { match: 'kib', scale_factor: 1024 },
        { match: 'thirds', scale_factor: 3 },
      ],
    });
    const out = p.transform(batchOf(exponential('kib'), exponential('thirds')));
    expect(flat(out)).toEqual([
      [
        'kib',
        {},
        {
          count: 3,
          sum: 30 * 1024,
          scale: 1,
          zeroCount: 0,
          // 1024 = 2^10 = base^20 at scale 1 (base 2^(1/2)).
          positive: { offset: 22, bucketCounts: [1, 2] },
          negative: { offset: 20, bucketCounts: [] },
        },
      ],
    ]);
    expect(settings.telemetry.counts.dropped.get('unscalable_exponential_histogram')).toBe(1);
  });

  it('scale_factor scales exemplar values with their points: histogram exemplars stay in their scaled bucket', () => {
    const exemplar = (value: number, valueType: ValueType, traceId?: string): Exemplar => ({
      filteredAttributes: { user: 'a' },
      value,
      valueType,
      timestamp: [7, 5],
      ...(traceId === undefined ? {} : { traceId }),
    });
    const trace = '5b8efff798038103d269b633813fc60c';
    const counter: MetricData = {
      descriptor: { name: 'bytes', description: '', unit: 'By', valueType: ValueType.INT },
      dataPointType: DataPointType.SUM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      isMonotonic: true,
      dataPoints: [
        withExemplars({ startTime: [0, 0], endTime: [1, 0], attributes: {}, value: 10 }, [
          exemplar(4, ValueType.INT, trace),
          exemplar(3, ValueType.INT),
        ]),
      ],
    };
    const histogram: MetricData = {
      descriptor: { name: 'latency', description: '', unit: 's', valueType: ValueType.DOUBLE },
      dataPointType: DataPointType.HISTOGRAM,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: [
        withExemplars(
          {
            startTime: [0, 0],
            endTime: [1, 0],
            attributes: {},
            value: { buckets: { boundaries: [1, 5, 10], counts: [0, 1, 1, 0] }, count: 2, sum: 12 },
          },
          // In (1, 5] on its upper bound, and in (5, 10].
          [exemplar(5, ValueType.DOUBLE), exemplar(7, ValueType.DOUBLE)],
        ),
      ],
    };
    const { p } = make({
      metrics: [
        { match: 'bytes', scale_factor: 0.5 },
        { match: 'latency', scale_factor: 0.5 },
      ],
    });
    const out = p.transform(batchOf(counter, histogram));
    const points = out?.scopeMetrics[0]?.metrics.map((m) => m.dataPoints[0]!) ?? [];
    expect(points.map((point) => point.value)).toEqual([
      5,
      { buckets: { boundaries: [0.5, 2.5, 5], counts: [0, 1, 1, 0] }, count: 2, sum: 6 },
    ]);
    expect(points.map((point) => exemplarsOf(point))).toEqual([
      // 4 × 0.5 stays whole; 3 × 0.5 does not, and becomes a double.
      [exemplar(2, ValueType.INT, trace), exemplar(1.5, ValueType.DOUBLE)],
      // 2.5 on the upper bound of (0.5, 2.5], 3.5 in (2.5, 5]: the buckets they were in.
      [exemplar(2.5, ValueType.DOUBLE), exemplar(3.5, ValueType.DOUBLE)],
    ]);
    // The input is untouched.
    expect(exemplarsOf(counter.dataPoints[0]!).map((e) => e.value)).toEqual([4, 3]);
  });

  it('resource rules: rewrite the resource, or drop the whole batch', () => {
    const { p, settings } = make({
      resource_relabel_configs: [
        { source_labels: ['rack'], regex: 'r(.*)', target_label: 'rack.number' },
        { regex: 'rack', action: 'labeldrop' },
      ],
    });
    expect(p.transform(batchOf(gauge('m', [[1, {}]])))?.resource.attributes).toEqual({
      'host.name': 'node-1',
      'rack.number': '7',
    });
    const { p: dropping } = make({
      resource_relabel_configs: [{ source_labels: ['host.name'], regex: 'node-.*', action: 'drop' }],
    });
    expect(
      dropping.transform(
        batchOf(
          gauge('m', [
            [1, {}],
            [2, {}],
          ]),
        ),
      ),
    ).toBeUndefined();
    expect(settings.telemetry.counts.dropped.size).toBe(0);
  });
});

describe("a point's labels, read in place", () => {
  // Every rule below against every label set: the view must give what a Map built in the
  // documented order gives (resource labels, __name__, attributes).
  const ruleLists = [
    [{ source_labels: ['cpu'], regex: '1', action: 'drop' }],
    [{ source_labels: ['cpu'], regex: '1', action: 'keep' }],
    [{ source_labels: ['never'], regex: 'x', action: 'drop' }],
    [{ source_labels: ['cpu'], regex: '(.*)', target_label: 'cpu' }],
    [{ source_labels: ['cpu', 'mode'], regex: '(.*);(.*)', target_label: 'both', replacement: '$1-$2' }],
    [{ source_labels: ['__resource_rack'], target_label: 'rack' }],
    [{ source_labels: ['__name__'], regex: 'm\\.(.*)', target_label: '__name__', replacement: 'n.$1' }],
    [{ source_labels: ['mode'], regex: '(.*)', target_label: 'mode', replacement: '' }],
    [{ regex: 'mo(.*)', replacement: 'x_$1', action: 'labelmap' }],
    [{ regex: 'never', action: 'labeldrop' }],
    [{ regex: 'mode|__.*', action: 'labeldrop' }],
    [{ regex: 'cpu|__name__', action: 'labelkeep' }],
    [{ source_labels: ['cpu'], target_label: 'h', action: 'hashmod', modulus: 7 }],
    [{ source_labels: ['mode'], target_label: 'mode', action: 'uppercase' }],
    [{ source_labels: ['mode'], target_label: 'mode', action: 'lowercase' }],
    [
      { source_labels: ['cpu'], regex: '0', target_label: 'cpu', replacement: '0' },
      { source_labels: ['cpu'], regex: '2', action: 'drop' },
    ],
  ];
  const attributeSets: Attributes[] = [
    {},
    { cpu: '1', mode: 'user' },
    { cpu: 2, mode: 'IDLE' },
    { cpu: '0', mode: undefined },
    { __name__: 'other', cpu: '1' },
    { __resource_rack: 'r9', mode: 'sys' },
    { big: true, list: ['a', 1] },
  ];
  // The text a value is relabelled as.
  const text = (v: unknown): string =>
    typeof v === 'string'
      ? v
      : v === undefined || v === null
        ? ''
        : typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : JSON.stringify(v);
  const resource = new Map([
    ['__resource_host.name', 'node-1'],
    ['__resource_rack', 'r7'],
  ]);

  it.each(ruleLists.map((list, i) => [i, list] as const))(
    'rule list %i gives what a Map gives',
    (_, list) => {
      for (const attributes of attributeSets) {
        const map = new Map(resource);
        map.set('__name__', 'm.x');
        for (const [k, v] of Object.entries(attributes)) map.set(k, text(v));
        const view = new PointLabels(resource, 'm.x', attributes);
        const kept = applyRules(rules(list), view);
        expect(kept).toBe(applyRules(rules(list), map));
        if (!kept) continue;
        expect(Object.fromEntries(view)).toEqual(Object.fromEntries(map));
        const result = view.result();
        const expected = Object.fromEntries([...map].filter(([k]) => !k.startsWith('__')));
        if (result === undefined) {
          // Unchanged: the point keeps its own attributes object and name.
          expect(map.get('__name__')).toBe('m.x');
          expect(Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, text(v)]))).toEqual(
            expected,
          );
        } else {
          expect(result.name).toBe(map.get('__name__') ?? 'm.x');
          expect(Object.keys(result.attributes)).toEqual(Object.keys(expected));
        }
      }
    },
  );

  it('passes points, metrics and batches that no rule changes on as they are', () => {
    const settings = createTestSettings('relabel', 'processor');
    const sink = {
      export: () => undefined,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const p = new RelabelProcessor(
      settings,
      relabelConfigSchema.parse({
        metric_relabel_configs: [{ source_labels: ['outlet'], regex: '3', action: 'drop' }],
      }),
      sink,
    );
    const untouched = batchOf(
      gauge('hw.power', [[10, { outlet: 1 }]]),
      gauge('hw.energy', [[5, { outlet: 2 }]]),
    );
    expect(p.transform(untouched)).toBe(untouched);
    const partly = batchOf(
      gauge('hw.power', [
        [10, { outlet: 1 }],
        [20, { outlet: 3 }],
      ]),
      gauge('hw.energy', [[5, { outlet: 2 }]]),
    );
    const out = p.transform(partly);
    const [power, energy] = out?.scopeMetrics[0]?.metrics ?? [];
    expect(power?.dataPoints).toHaveLength(1);
    expect(power?.dataPoints[0]).toBe(partly.scopeMetrics[0]?.metrics[0]?.dataPoints[0]);
    expect(energy).toBe(partly.scopeMetrics[0]?.metrics[1]);
    expect(flat(out)).toEqual([
      ['hw.power', { outlet: 1 }, 10],
      ['hw.energy', { outlet: 2 }, 5],
    ]);
  });
});
