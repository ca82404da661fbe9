/**
 * How fast an agent's backlog drains after an outage of its gateway, run by hand:
 * `node bench/delivery-catchup.bench.ts [--outage-s 30] [--rate 2] [--points 200] [--runs 3] [--only NAME,NAME]`.
 *
 * In this process: a gateway as deployed (otlp receiver over OTLP/HTTP → csv exporter,
 * which acknowledges a batch on its 1 s flush) and an agent's `otlp` exporter with default
 * delivery settings, fed `--rate` batches a second of `--points` points. The gateway is down
 * for `--outage-s`, then up again; printed for each way of sending: the backlog, how long it
 * took to drain, and the drain rate against the production rate (the ratio must be ≥ 10),
 * with the machine's load average beside each figure.
 *
 * - `default`: default settings (one request in flight, queued batches sent together, the
 *   destination probed at least every 5 s while it fails), csv gateway acking at its 1 s flush;
 * - `parallel senders`: the same with `num_consumers: 8`;
 * - `ack at write`: default agent, csv gateway with `flush_interval: 0` (acks once written);
 * - `one batch per request`: no coalescing, one request in flight (for reference);
 * - `one batch per request, 8 consumers` and `one batch per request, ack at write`: each
 *   remedy on its own, without coalescing.
 *
 * With `--runs N` every mode runs N times and the worst run of each is printed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { CsvExporter } from '../exporters/csv/csv.ts';
import { configSchema as csvConfig } from '../exporters/csv/config.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import { createLogger } from '../kit/logger.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { freePort } from '../test/support/peers.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const OUTAGE_MS = option('outage-s', 30) * 1000;
const RATE = option('rate', 2);
const POINTS = option('points', 200);
const RUNS = option('runs', 1);

function batch(id: number): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'host.name': 'agent' }),
    scopeMetrics: [
      {
        scope: { name: 'bench' },
        metrics: [
          {
            descriptor: { name: 'g', description: '', unit: '1', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: Array.from({ length: POINTS }, (_, i) => ({
              startTime: [1, 0] as [number, number],
              endTime: [Math.floor(Date.now() / 1000), 0] as [number, number],
              attributes: { i, id },
              value: id * 1000 + i,
            })),
          },
        ],
      },
    ],
  };
}

interface Gateway {
  stop(): Promise<void>;
}

async function startGateway(port: number, dir: string, ackAtWrite: boolean): Promise<Gateway> {
  const csv = new CsvExporter(
    createTestSettings('csv', 'exporter'),
    csvConfig.parse({ path: join(dir, 'metrics.csv'), ...(ackAtWrite ? { flush_interval: '0s' } : {}) }),
  );
  await csv.start();
  const receiver = new OtlpReceiver(
    createTestSettings('otlp', 'receiver'),
    otlpReceiverFactory.configSchema.parse({
      protocols: { http: { endpoint: `127.0.0.1:${String(port)}` } },
    }),
  );
  await receiver.start(csv);
  return {
    async stop() {
      await receiver.shutdown();
      await csv.shutdown();
    },
  };
}

const load = (): string => loadavg()[0]?.toFixed(2) ?? '?';

interface Figures {
  readonly goneS: number;
  readonly firstAckS: number;
  readonly ratio: number;
  readonly gone: boolean;
}

async function measure(
  name: string,
  extra: object,
  coalesce: boolean,
  ackAtWrite: boolean,
): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-catchup-'));
  const port = await freePort();
  const exporter = new OtlpExporter(
    process.env.BENCH_LOG === undefined
      ? createTestSettings('otlp', 'exporter')
      : { ...createTestSettings('otlp', 'exporter'), logger: createLogger('debug') },
    otlpExporterFactory.configSchema.parse({
      endpoint: `http://127.0.0.1:${String(port)}`,
      protocol: 'http/protobuf',
      ...extra,
    }),
    coalesce ? {} : { coalesceBytes: 0 },
  );
  await exporter.start();
  let id = 0;
  const producer = setInterval(() => {
    id += 1;
    exporter.export(batch(id), () => undefined);
  }, 1000 / RATE);
  // The outage: no gateway at all (connection refused), then the gateway comes up.
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  const backlog = exporter.status().queuedBatches;
  const backlogPoints = exporter.status().queuedPoints;
  const sentBefore = exporter.status().sentPoints;
  const gateway = await startGateway(port, dir, ackAtWrite);
  const up = performance.now();
  const loadAtStart = load();
  // The first acknowledgement comes when the retry backoff of the oldest batch ends; the
  // backlog is gone once as many points as it held have been acknowledged (in order: what
  // was queued before the gateway came back).
  let firstAck: number | undefined;
  const acked = (): number => exporter.status().sentPoints - sentBefore;
  while (acked() < backlogPoints) {
    if (firstAck === undefined && acked() > 0) firstAck = performance.now();
    if (performance.now() - up > 5 * OUTAGE_MS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const end = performance.now();
  clearInterval(producer);
  const gone = acked() >= backlogPoints;
  const ackAt = firstAck ?? end;
  // Batches acknowledged a second from the first acknowledgement on, against production.
  const drainS = Math.max(0.001, (end - ackAt) / 1000);
  const drainRate = acked() / POINTS / drainS;
  console.log(
    `${name.padEnd(38)} backlog ${String(backlog).padStart(4)} batches; ` +
      `${gone ? 'gone' : 'NOT gone'} ${((end - up) / 1000).toFixed(1).padStart(6)} s after the gateway came back ` +
      `(first ack after ${((ackAt - up) / 1000).toFixed(1)} s of retry backoff); ` +
      `drain ${drainRate.toFixed(1).padStart(6)} batches/s = ${(drainRate / RATE).toFixed(1).padStart(5)}× production` +
      `  (load ${loadAtStart} → ${load()})`,
  );
  await exporter.shutdown();
  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
  return { goneS: (end - up) / 1000, firstAckS: (ackAt - up) / 1000, ratio: drainRate / RATE, gone };
}

console.log(
  `outage ${String(OUTAGE_MS / 1000)} s, ${String(RATE)} batches/s of ${String(POINTS)} points, csv gateway flushing every 1 s`,
);
/** `--only A,B`: the modes whose names start with A or B. */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]?.split(',') : undefined;
const modes: [string, object, boolean, boolean][] = [
  ['default', {}, true, false],
  ['parallel senders (8 consumers)', { sending_queue: { num_consumers: 8 } }, true, false],
  ['ack at write (csv flush_interval 0)', {}, true, true],
  ['one batch per request', {}, false, false],
  ['one batch per request, 8 consumers', { sending_queue: { num_consumers: 8 } }, false, false],
  ['one batch per request, ack at write', {}, false, true],
];
const worst = new Map<string, Figures>();
for (let run = 1; run <= RUNS; run += 1) {
  if (RUNS > 1) console.log(`run ${String(run)} of ${String(RUNS)}`);
  for (const [name, extra, coalesce, ackAtWrite] of modes) {
    if (only !== undefined && !only.some((prefix) => name.startsWith(prefix))) continue;
    const figures = await measure(name, extra, coalesce, ackAtWrite);
    const before = worst.get(name);
    if (before === undefined || !figures.gone || figures.goneS > before.goneS) worst.set(name, figures);
  }
}
if (RUNS > 1) {
  console.log(`worst of ${String(RUNS)} runs (by the time until the backlog was gone):`);
  for (const [name, f] of worst)
    console.log(
      `${name.padEnd(38)} ${f.gone ? 'gone' : 'NOT gone'} ${f.goneS.toFixed(1).padStart(6)} s after the gateway came back ` +
        `(first ack ${f.firstAckS.toFixed(1)} s); drain ${f.ratio.toFixed(1).padStart(5)}× production`,
    );
}
