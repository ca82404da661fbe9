/**
 * The kwollect receiver's reshaping of points into kwollect metrics, on one core.
 *
 *   node bench/kwollect.bench.ts [devices] [rounds]      (default 5000 devices, 200 rounds)
 *
 * A metrics.d tree of `devices` PDUs × 4 SNMP metrics at one interval (one snmp receiver
 * batch per round, points named as the snmp receiver names them inside), then the same
 * number of points from one Prometheus exporter read whole. Prints points per CPU-second,
 * beside the floor measured in the same run: copying every point with its attributes (the
 * least any per-point rewrite does), and the load average next to each figure.
 */
import { loadavg } from 'node:os';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { parseMetricsFile } from '../receivers/kwollect/parse/metrics-file.ts';
import { createTransform } from '../receivers/kwollect/reshape.ts';
import { translate } from '../receivers/kwollect/translate.ts';

const DEVICES = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 200);
const METRICS = ['pdu_power_watt', 'pdu_current_amp', 'pdu_energy_wh', 'pdu_voltage_volt'];
const NOW: [number, number] = [1_800_000_000, 0];

function gauge(name: string, points: { attributes: Record<string, string>; value: number }[]): MetricData {
  return {
    descriptor: { name, unit: '1', description: '', valueType: ValueType.DOUBLE },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: points.map((p) => ({ startTime: NOW, endTime: NOW, ...p })),
  };
}

const batch = (metrics: MetricData[]): ResourceMetrics => ({
  resource: resourceFromAttributes({}),
  scopeMetrics: [{ scope: { name: 'bench' }, metrics }],
});

/** CPU seconds of `rounds` calls of `work`. */
function cpu(rounds: number, work: () => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < rounds; i++) work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** The floor: every point copied with its attributes, nothing looked up (the sum keeps the copies alive). */
function copy(b: ResourceMetrics): number {
  let n = 0;
  for (const s of b.scopeMetrics)
    for (const m of s.metrics)
      for (const p of m.dataPoints as DataPoint<number>[]) {
        const q = { ...p, attributes: { ...p.attributes, 'device.id': 'x' } };
        n += q.value;
      }
  return n;
}

function report(label: string, points: number, seconds: number, floorSeconds: number): void {
  console.log(
    `${label}: ${(points / seconds).toFixed(0)} points per CPU-second (${((seconds / points) * 1e6).toFixed(2)} µs/point), ` +
      `${(seconds / floorSeconds).toFixed(2)}× the copy floor (${(points / floorSeconds).toFixed(0)}/s); load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
}

const context = { wanted: () => true, dropped: () => undefined };

// SNMP: the entries of a large site, one batch of the receiver's own names per round.
const snmpFile = Array.from({ length: DEVICES }, (_, d) =>
  METRICS.map(
    (name, i) =>
      `- { name: ${name}, device_id: node-${String(d)}, url: "snmp://public@pdu-${String(d % 100)}/1.3.6.1.4.1.99999.${String(i)}.${String(d)}.0", labels: { outlet: "${String(d % 24)}" } }`,
  ).join('\n'),
).join('\n');
const [snmp] = translate(parseMetricsFile(snmpFile, 'site.yaml'));
if (snmp?.internalNames === undefined) throw new Error('no snmp receiver');
const byName = new Map<string, { attributes: Record<string, string>; value: number }[]>();
for (const [m, name] of snmp.internalNames)
  byName.set(name, [{ attributes: { 'device.id': m.deviceId, 'snmp.target': 'x' }, value: 1234 }]);
const snmpBatch = batch([...byName].map(([name, points]) => gauge(name, points)));
const snmpTransform = createTransform(snmp, context);
const snmpPoints = DEVICES * METRICS.length;

// Prometheus: as many series from one exporter, read whole.
const [prom] = translate(
  parseMetricsFile('- { name: all, device_id: node-1, url: "prometheus://n1:9100/" }', 'p.yaml'),
);
if (prom === undefined) throw new Error('no prometheus receiver');
const promBatch = batch(
  Array.from({ length: snmpPoints / 10 }, (_, f) =>
    gauge(
      `node_family_${String(f)}`,
      Array.from({ length: 10 }, (_, i) => ({ attributes: { cpu: String(i), mode: 'user' }, value: i })),
    ),
  ),
);
const promTransform = createTransform(prom, context);

for (let warm = 0; warm < 3; warm++) {
  snmpTransform(snmpBatch);
  promTransform(promBatch);
  copy(snmpBatch);
}
const floorSnmp = cpu(ROUNDS, () => copy(snmpBatch));
report(
  `snmp, ${String(DEVICES)} devices × ${String(METRICS.length)} metrics`,
  snmpPoints * ROUNDS,
  cpu(ROUNDS, () => snmpTransform(snmpBatch)),
  floorSnmp,
);
const floorProm = cpu(ROUNDS, () => copy(promBatch));
report(
  `prometheus, ${String(snmpPoints)} series of one exporter`,
  snmpPoints * ROUNDS,
  cpu(ROUNDS, () => promTransform(promBatch)),
  floorProm,
);
