import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/peers.ts';
import { parse as parseYaml } from 'yaml';
import { ipmiFactory } from '../ipmi/index.ts';
import { prometheusReceiverFactory } from '../prometheus/index.ts';
import { snmpFactory } from '../snmp/index.ts';
import { configSchema } from './config.ts';
import { parseCustomLabels } from './custom.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { parseKwollectUrl, parseMetricsFile } from './parse/metrics-file.ts';
import { PromotedMetricsReader } from './promoted-db.ts';
import { Promotions } from './promotions.ts';
import { createTransform } from './reshape.ts';
import { scalePoint } from './scale.ts';
import { translate } from './translate.ts';

const TESTDATA = join(import.meta.dirname, 'testdata');
const FACTORIES = { snmp: snmpFactory, ipmi: ipmiFactory, prometheus: prometheusReceiverFactory };

describe('kwollect metric files', () => {
  it('reads the URL forms of the document', () => {
    expect(
      parseKwollectUrl('snmp://public@node-1-admin.domain.com/1.3.6.1.4.1.674.10892.5.4.600.30.1.6.1.3'),
    ).toEqual({
      scheme: 'snmp',
      community: 'public',
      host: 'node-1-admin.domain.com',
      port: 161,
      oid: '1.3.6.1.4.1.674.10892.5.4.600.30.1.6.1.3',
    });
    expect(parseKwollectUrl('ipmisensor://root:calvin@node-1-admin.domain.com/20')).toEqual({
      scheme: 'ipmisensor',
      user: 'root',
      password: 'calvin',
      host: 'node-1-admin.domain.com',
      port: undefined,
      sensor: '20',
    });
    expect(parseKwollectUrl('prometheus://node-1.domain.com:9100/')).toMatchObject({ names: [] });
    expect(parseKwollectUrl('prometheus://node-2.domain.com:9100/node_load1')).toMatchObject({
      names: ['node_load1'],
    });
    expect(parseKwollectUrl('prometheus://node-2.domain.com:9100/node_load1-node_load5-node_load15')).toEqual(
      {
        scheme: 'prometheus',
        host: 'node-2.domain.com',
        port: 9100,
        names: ['node_load1', 'node_load5', 'node_load15'],
      },
    );
    expect(() => parseKwollectUrl('modbus://x/1')).toThrow(
      'unknown scheme modbus: (snmp, ipmisensor or prometheus)',
    );
    expect(() => parseKwollectUrl('snmp://host/1.3.6')).toThrow('snmp:// needs a community');
  });

  it("takes kwollect's defaults: every 10 s, no scale, no labels, not optional", () => {
    const [m] = parseMetricsFile('- name: x\n  device_id: d\n  url: snmp://c@h/1.2.3\n', 'a.yaml');
    expect(m).toMatchObject({ updateEvery: 10_000, scaleFactor: 1, labels: {}, optional: false });
  });

  it('names the entry of a bad field', () => {
    expect(() =>
      parseMetricsFile(
        '- name: x\n  device_id: d\n  url: snmp://c@h/1.2.3\n  update_every: soon\n',
        'pdu.yaml',
      ),
    ).toThrow('pdu.yaml:1: pdu.yaml[0].update_every: a number of milliseconds');
    expect(() => parseMetricsFile('- name: x\n  url: snmp://c@h/1.2.3\n', 'pdu.yaml')).toThrow(
      'pdu.yaml[0].device_id: required, a string',
    );
  });

  it("accepts a kwollector configuration file's keys as they are", () => {
    const file = parseYaml(readFileSync(join(TESTDATA, 'kwollector.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(file.metrics_dir).toBe('/etc/kwollect/metrics.d/');
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kwollect-'));
    writeFileSync(
      join(dir, 'node-1.yaml'),
      '- { name: x, device_id: node-1, url: "snmp://public@h/1.2.3.0" }\n',
    );
    const config = configSchema.parse({ ...file, metrics_dir: dir });
    rmSync(dir, { recursive: true });
    expect(config).toMatchObject({
      db_host: 'localhost',
      db_name: 'kwdb',
      db_user: 'kwuser',
      log_level: 'warning',
    });
    expect(config.db_password?.reveal()).toBe('changeme');
    expect(String(config.db_password)).toBe('[REDACTED]');
  });

  it('refuses at validation what the receivers would refuse at start, naming metrics_dir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kwollect-'));
    const problems = (raw: unknown) =>
      configSchema.safeParse(raw).error?.issues.map((i) => [i.path.join('.'), i.message]);
    expect(problems({ metrics_dir: join(dir, 'missing') })?.[0]?.[1]).toMatch(/^ENOENT/);
    writeFileSync(join(dir, 'b.yaml'), '- { name: y, device_id: d, url: "modbus://h/1" }\n');
    const b = join(dir, 'b.yaml');
    expect(problems({ metrics_dir: dir })).toEqual([
      [
        'metrics_dir',
        `${b}:1: ${b}[0].url: modbus://h/1: unknown scheme modbus: (snmp, ipmisensor or prometheus)`,
      ],
    ]);
    rmSync(b);
    writeFileSync(
      join(dir, 'a.yaml'),
      '- { name: x, device_id: d, url: "snmp://public@h/1.2.3.0", update_every: 1 }\n',
    );
    expect(problems({ metrics_dir: dir })?.[0]?.[1]).toMatch(/^snmp metrics every 1ms: /);
    rmSync(dir, { recursive: true });
  });
});

describe('translation into receivers', () => {
  const metrics = parseMetricsFile(
    [
      '- { name: a, device_id: n1, url: "snmp://public@pdu/1.3.6.1.1.0", update_every: 5000 }',
      '- { name: b, device_id: n1, url: "snmp://public@pdu/1.3.6.1.2.0" }',
      '- { name: c, device_id: n2, url: "snmp://public@pdu/1.3.6.1.3.0", update_every: 1000 }',
      '- { name: PDU-Power.W, device_id: n1, url: "snmp://public@pdu/1.3.6.1.4.0", update_every: 5000 }',
      '- { name: t, device_id: n1, url: "ipmisensor://u:p@bmc:6230/4" }',
      '- { name: t, device_id: n2, url: "ipmisensor://u:p@bmc:6231/4" }',
      '- { name: m, device_id: n1, url: "prometheus://n1:9100/node_load1-node_cpu_seconds_total" }',
    ].join('\n'),
    'site.yaml',
  );

  it('makes one receiver per protocol and interval, each valid for its own schema, whatever the names', () => {
    const translated = translate(metrics);
    expect(translated.map((t) => [t.type, t.config.collection_interval])).toEqual([
      ['snmp', '5000ms'],
      ['snmp', '10000ms'],
      ['snmp', '1000ms'],
      ['ipmi', '10000ms'],
      ['prometheus', '10000ms'],
    ]);
    for (const t of translated) {
      const parsed = FACTORIES[t.type].configSchema.safeParse(t.config);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it('keeps two BMCs of one address apart by port', () => {
    const ipmi = translate(metrics).find((t) => t.type === 'ipmi');
    expect(ipmi?.config.targets).toEqual([
      { host: 'bmc:6230', name: 'bmc:6230', username: 'u', password: 'p' },
      { host: 'bmc:6231', name: 'bmc:6231', username: 'u', password: 'p' },
    ]);
  });

  it('asks the exporter for the listed families, counters with or without _total', () => {
    const prometheus = translate(metrics).find((t) => t.type === 'prometheus');
    expect(prometheus?.config).toMatchObject({
      targets: ['http://n1:9100/metrics'],
      metrics: ['node_load1(_total)?', 'node_cpu_seconds(_total)?'],
    });
  });
});

const NOW: [number, number] = [1_800_000_000, 0];

function metric(
  name: string,
  type: DataPointType,
  unit: string,
  points: { attributes: Record<string, string>; value: unknown }[],
  isMonotonic = false,
): MetricData {
  return {
    descriptor: { name, unit, description: '', valueType: ValueType.DOUBLE },
    dataPointType: type,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    isMonotonic,
    dataPoints: points.map((p) => ({ startTime: NOW, endTime: NOW, ...p })),
  } as MetricData;
}

function batchOf(...metrics: MetricData[]): ResourceMetrics {
  return { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 'x' }, metrics }] };
}

const HISTOGRAM: Histogram = {
  buckets: { boundaries: [0.1, 0.5], counts: [3, 2, 1] },
  count: 6,
  sum: 2.75,
  min: 0.05,
  max: 0.9,
};

describe('points as kwollect metrics', () => {
  it('scales a histogram: bounds, sum, min and max, never counts', () => {
    const point: DataPoint<unknown> = { startTime: NOW, endTime: NOW, attributes: {}, value: HISTOGRAM };
    expect(scalePoint(DataPointType.HISTOGRAM, point, 1000)?.value).toEqual({
      buckets: { boundaries: [100, 500], counts: [3, 2, 1] },
      count: 6,
      sum: 2750,
      min: 50,
      max: 900,
    });
    expect(scalePoint(DataPointType.HISTOGRAM, point, -2)?.value).toEqual({
      buckets: { boundaries: [-1, -0.2], counts: [1, 2, 3] },
      count: 6,
      sum: -5.5,
      min: -1.8,
      max: -0.1,
    });
    expect(scalePoint(DataPointType.EXPONENTIAL_HISTOGRAM, point, 2)).toBeUndefined();
  });

  it("reads kwollect_custom's _metric_id and _timestamp exactly", () => {
    expect(parseCustomLabels({ _metric_id: 'my_metric', _timestamp: '1606389005.1234', rack: '3' })).toEqual({
      name: 'my_metric',
      attributes: { rack: '3' },
      time: [1606389005, 123_400_000],
    });
    expect(parseCustomLabels({ _metric_id: 'my_metric' })).toEqual({
      name: 'my_metric',
      attributes: {},
      time: undefined,
    });
    expect(parseCustomLabels({ other: 'x' })).toBeUndefined();
    expect(() => parseCustomLabels({ _metric_id: 'm', _timestamp: 'soon' })).toThrow(
      'kwollect_custom m: _timestamp "soon" is not Unix seconds',
    );
  });

  it('names Prometheus points as the exporter does, scales all but counts, and drops units', () => {
    const entry = (url: string, scale = 1, optional = false): KwollectMetric[] =>
      parseMetricsFile(
        `- { name: p, device_id: n1, url: "${url}", scale_factor: ${String(scale)}, optional: ${String(optional)}, labels: { rack: "3" } }`,
        'p.yaml',
      );
    const batch = batchOf(
      metric('node_cpu_seconds', DataPointType.SUM, 's', [{ attributes: { cpu: '0' }, value: 5 }], true),
      metric('lab_rpc_seconds', DataPointType.GAUGE, 's', [{ attributes: { quantile: '0.5' }, value: 0.25 }]),
      // A summary as the prometheus receiver carries it (kit/summary.ts): `m`, `m.sum`, `m.count`.
      metric('lab_rpc_seconds.sum', DataPointType.SUM, 's', [{ attributes: {}, value: 4.5 }]),
      metric('lab_rpc_seconds.count', DataPointType.SUM, '', [{ attributes: {}, value: 9 }], true),
      metric('lab_request_duration_seconds', DataPointType.HISTOGRAM, 's', [
        { attributes: {}, value: HISTOGRAM },
      ]),
      metric('kwollect_custom', DataPointType.GAUGE, '', [
        { attributes: { _metric_id: 'my_metric', _timestamp: '1606389005.5' }, value: 42 },
      ]),
      metric('up', DataPointType.GAUGE, '1', [{ attributes: {}, value: 1 }]),
    );
    const context = { wanted: () => true, dropped: (): void => undefined };
    const all = createTransform(translate(entry('prometheus://h:1/', 1000))[0]!, context)(batch);
    const got = all?.scopeMetrics[0]?.metrics.map((m) => [
      m.descriptor.name,
      m.descriptor.unit,
      m.dataPoints[0]?.value,
      m.dataPoints[0]?.attributes,
    ]);
    expect(got).toEqual([
      ['node_cpu_seconds_total', '', 5000, { cpu: '0', rack: '3', 'device.id': 'n1' }],
      ['lab_rpc_seconds', '', 250, { quantile: '0.5', rack: '3', 'device.id': 'n1' }],
      ['lab_rpc_seconds_sum', '', 4500, { rack: '3', 'device.id': 'n1' }],
      ['lab_rpc_seconds_count', '', 9, { rack: '3', 'device.id': 'n1' }],
      [
        'lab_request_duration_seconds',
        '',
        { buckets: { boundaries: [100, 500], counts: [3, 2, 1] }, count: 6, sum: 2750, min: 50, max: 900 },
        { rack: '3', 'device.id': 'n1' },
      ],
      ['my_metric', '', 42_000, { rack: '3', 'device.id': 'n1' }],
    ]);
    expect(all?.scopeMetrics[0]?.metrics.at(-1)?.dataPoints[0]?.endTime).toEqual([1606389005, 500_000_000]);
    const listed = createTransform(
      translate(entry('prometheus://h:1/node_cpu_seconds_total-lab_rpc_seconds'))[0]!,
      context,
    )(batch);
    expect(listed?.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name)).toEqual([
      'node_cpu_seconds_total',
      'lab_rpc_seconds',
      'lab_rpc_seconds_sum',
      'lab_rpc_seconds_count',
    ]);
  });

  it('leaves out optional metrics that are off', () => {
    const metrics = parseMetricsFile(
      '- { name: a, device_id: n1, url: "snmp://c@h/1.2.3.0", optional: true, labels: { _device_alias: node-9 } }',
      'o.yaml',
    );
    const promotions = new Promotions();
    const transform = createTransform(translate(metrics)[0]!, {
      wanted: (m, names) =>
        !m.optional || promotions.matches([m.deviceId, m.labels._device_alias ?? ''], names),
      dropped: () => undefined,
    });
    const batch = batchOf(
      metric('kwollect.m0', DataPointType.GAUGE, '1', [{ attributes: { 'device.id': 'n1' }, value: 3 }]),
    );
    expect(transform(batch)).toBeUndefined();
    promotions.setDatabase([{ device_id: 'node-9', metric_id: 'a|b' }]);
    expect(transform(batch)?.scopeMetrics[0]?.metrics[0]?.dataPoints[0]).toMatchObject({
      value: 3,
      attributes: { _device_alias: 'node-9', 'device.id': 'n1' },
    });
    // kwollect_custom's points are promoted by their _metric_id.
    const custom = parseMetricsFile(
      '- { name: all, device_id: n1, url: "prometheus://h:1/", optional: true }',
      'c.yaml',
    );
    const customTransform = createTransform(translate(custom)[0]!, {
      wanted: (m, names) => !m.optional || promotions.matches([m.deviceId], names),
      dropped: () => undefined,
    });
    const customBatch = batchOf(
      metric('kwollect_custom', DataPointType.GAUGE, '', [
        { attributes: { _metric_id: 'my_metric' }, value: 42 },
      ]),
    );
    promotions.setDatabase([{ device_id: 'n1', metric_id: 'my_.*' }]);
    expect(customTransform(customBatch)?.scopeMetrics[0]?.metrics[0]?.descriptor.name).toBe('my_metric');
    promotions.setDatabase([{ device_id: 'n1', metric_id: 'kwollect_custom' }]);
    expect(customTransform(customBatch)).toBeUndefined();
    // The regular expression matches whole names.
    promotions.setDatabase([{ device_id: 'n1', metric_id: 'b' }]);
    expect(transform(batch)).toBeUndefined();
    expect(promotions.setDatabase([{ device_id: 'n1', metric_id: '(' }])).toEqual([
      { device_id: 'n1', metric_id: '(' },
    ]);
  });
});

describe('promoted_metrics from the database', () => {
  it('a database that cannot be reached is logged once and changes nothing', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const empty = mkdtempSync(join(tmpdir(), 'inframeter-kwollect-'));
    const config = configSchema.parse({
      metrics_dir: empty,
      db_host: '127.0.0.1',
      db_port: await freePort(),
      db_password: 'changeme',
      promoted_metrics_interval: '1s',
    });
    const seen: unknown[] = [];
    const reader = new PromotedMetricsReader(config, logger, (rows) => seen.push(rows));
    await reader.read();
    await reader.read();
    await reader.shutdown();
    rmSync(empty, { recursive: true });
    expect(seen).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ECONNREFUSED');
    expect(lines[0]).not.toContain('changeme');
  });
});
