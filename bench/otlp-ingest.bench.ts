/**
 * OTLP benchmarks, run by hand: `node bench/otlp-ingest.bench.ts [--seconds 10]`.
 *
 * 1. Gateway ingest: this process is the gateway — the otlp receiver (gRPC) → relabel →
 *    batch (when those processors exist) → the csv exporter writing to .bench-out/. A second
 *    process is the load generator: it sends pre-encoded OTLP requests (procfs-like points)
 *    over gRPC with a few requests in flight. Printed: points/s (wall clock), points per
 *    CPU-second of the gateway (one core's throughput), CPU use, peak RSS. Target: 250,000
 *    points/s on one core.
 * 2. Agent export cost: CPU time per point of our otlp exporter (encode, gzip, gRPC) sending
 *    procfs-like batches to a sink process, beside the official OpenTelemetry JS gRPC exporter
 *    sending the same batches.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, Metadata, Server, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { csvFactory } from '../exporters/csv/index.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import type { ComponentSettings, MetricSink, ProcessorFactory } from '../service/component.ts';
import { formatHostPort } from '../service/config-types.ts';
import { encodeExportRequest } from '../service/delivery/otlp/encode.ts';
import { METRICS_EXPORT_PATH } from '../service/delivery/otlp/proto.ts';
import { createSilentLogger } from '../service/logger.ts';
import { countPoints } from '../service/metrics-data.ts';
import { SelfTelemetry } from '../service/self-telemetry.ts';

const OUT = join(import.meta.dirname, '../.bench-out');
const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

/** A procfs-like batch: CPU times per cpu and mode, memory, network and disk counters of one host. */
function agentBatch(host: string, cpus: number, time: number): ResourceMetrics {
  const start: [number, number] = [Math.floor(time) - 3600, 0];
  const end: [number, number] = [Math.floor(time), Math.round((time % 1) * 1e9)];
  const sum = (
    name: string,
    unit: string,
    attrs: Record<string, string>[],
  ): MetricData & { dataPointType: DataPointType.SUM } => ({
    descriptor: { name, description: '', unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: attrs.map((attributes, i) => ({
      startTime: start,
      endTime: end,
      attributes,
      value: 1000 + i * 3.25 + time,
    })),
  });
  const modes = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'];
  const cpu = Array.from({ length: cpus }, (_, c) =>
    modes.map((mode) => ({ cpu: String(c), 'cpu.mode': mode })),
  ).flat();
  const devices = ['eth0', 'eth1', 'lo'].flatMap((device) =>
    ['receive', 'transmit'].map((direction) => ({
      'network.interface.name': device,
      'network.io.direction': direction,
    })),
  );
  const disks = ['sda', 'sdb', 'nvme0n1'].flatMap((device) =>
    ['read', 'write'].map((direction) => ({ 'system.device': device, 'disk.io.direction': direction })),
  );
  const memory = ['used', 'free', 'cached', 'buffers'].map((state) => ({ 'system.memory.state': state }));
  return {
    resource: resourceFromAttributes({ 'host.name': host, 'service.name': 'inframeter', 'os.type': 'linux' }),
    scopeMetrics: [
      {
        scope: { name: 'inframeter/receiver/procfs', version: '0.1.0' },
        metrics: [
          sum('system.cpu.time', 's', cpu),
          sum('system.network.io', 'By', devices),
          sum('system.network.packet.count', '{packet}', devices),
          sum('system.disk.io', 'By', disks),
          sum('system.disk.operations', '{operation}', disks),
          { ...sum('system.memory.usage', 'By', memory), isMonotonic: false },
        ],
      },
    ],
  };
}

// ─── load generator (child process) ──────────────────────────────────────────
async function loadGenerator(
  target: string,
  seconds: number,
  hosts: number,
  concurrency: number,
): Promise<void> {
  const now = Date.now() / 1000;
  const batches = Array.from({ length: hosts }, (_, h) => agentBatch(`node-${h}`, 32, now));
  const request = Buffer.from(encodeExportRequest(batches));
  const pointsPerRequest = batches.reduce((n, b) => n + countPoints(b), 0);
  const client = new Client(target, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        client.makeUnaryRequest(
          METRICS_EXPORT_PATH,
          (b: Buffer) => b,
          (b: Buffer) => b,
          request,
          new Metadata(),
          (error) => {
            if (error) errors += 1;
            else requests += 1;
            resolve();
          },
        );
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  client.close();
  process.stdout.write(
    `${JSON.stringify({ requests, errors, points: requests * pointsPerRequest, pointsPerRequest, bytes: request.length })}\n`,
  );
}

// ─── sink (child process) for the agent export cost ──────────────────────────
async function sink(): Promise<void> {
  const server = new Server({ 'grpc.max_receive_message_length': -1 });
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      Export: {
        path: METRICS_EXPORT_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => {
      if (e) reject(e);
      else resolve(p);
    });
  });
  process.stdout.write(`${port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    server.forceShutdown();
  });
}

// ─── gateway (this process) ──────────────────────────────────────────────────
function settingsFor(
  telemetry: SelfTelemetry,
  id: string,
  kind: 'receiver' | 'processor' | 'exporter',
): ComponentSettings {
  return {
    id,
    kind,
    logger: createSilentLogger(),
    telemetry: telemetry.forComponent(id, kind),
    meter: telemetry.meter,
    resource: resourceFromAttributes({ 'host.name': 'gateway' }),
  };
}

/** A processor factory, when that processor exists in this checkout. */
async function optionalProcessor(type: string): Promise<ProcessorFactory | undefined> {
  const path = `../processors/${type}/index.ts`;
  try {
    const module = (await import(path)) as Record<string, unknown>;
    return Object.values(module).find(
      (v): v is ProcessorFactory =>
        typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'processor',
    );
  } catch {
    return undefined;
  }
}

function runChild(mode: string[], onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, ...mode], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (onLine !== undefined && out.includes('\n')) onLine(out.split('\n')[0] ?? '');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${mode[0] ?? ''} exited with ${code}`));
    });
    if (onLine === undefined) child.stdin.end();
    else sinkStdin = child.stdin;
  });
}
let sinkStdin: NodeJS.WritableStream | undefined;

/** Accepts and forgets: isolates the receiver's own cost. */
function discard(): MetricSink {
  return {
    export: (_batch, callback) => {
      callback({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

async function gatewayIngest(seconds: number, to: 'csv' | 'discard'): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const csvPath = join(OUT, 'otlp-ingest.csv');
  rmSync(csvPath, { force: true });
  const telemetry = new SelfTelemetry(resourceFromAttributes({}));
  const csv =
    to === 'csv'
      ? csvFactory.create(
          settingsFor(telemetry, 'csv', 'exporter'),
          // Written as each batch arrives: the receiver answers once its data is on disk.
          csvFactory.configSchema.parse({ path: csvPath, flush_interval: '0ms' }),
        )
      : discard();
  await (csv as { start?: () => Promise<void> }).start?.();
  let head: MetricSink = csv;
  const chain: string[] = [];
  const batchFactory = to === 'csv' ? await optionalProcessor('batch') : undefined;
  if (batchFactory !== undefined) {
    head = batchFactory.create(
      settingsFor(telemetry, 'batch', 'processor'),
      batchFactory.configSchema.parse({}),
      head,
    );
    chain.unshift('batch');
  }
  const relabelFactory = to === 'csv' ? await optionalProcessor('relabel') : undefined;
  if (relabelFactory !== undefined) {
    const config = relabelFactory.configSchema.safeParse({
      // A rule on every point that keeps them all: the per-point relabelling cost.
      metric_relabel_configs: [{ source_labels: ['never.present'], regex: 'x', action: 'drop' }],
    });
    if (config.success) {
      head = relabelFactory.create(settingsFor(telemetry, 'relabel', 'processor'), config.data, head);
      chain.unshift('relabel');
    }
  }
  const receiver = new OtlpReceiver(
    settingsFor(telemetry, 'otlp', 'receiver'),
    otlpReceiverFactory.configSchema.parse({
      protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size: '64MiB' } },
    }),
  );
  await receiver.start(head);
  const target = formatHostPort(receiver.addresses().grpc!);

  let rss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage.rss());
  }, 100);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const result = JSON.parse(
    await runChild([
      '--load',
      target,
      String(seconds),
      String(arg('hosts', 8)),
      String(arg('concurrency', 4)),
    ]),
  ) as {
    requests: number;
    errors: number;
    points: number;
    pointsPerRequest: number;
    bytes: number;
  };
  const wall = (performance.now() - wallBefore) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  await receiver.shutdown();
  await head.forceFlush();
  await head.shutdown();
  if (head !== csv) await csv.shutdown();
  await telemetry.shutdown();

  console.log(
    `gateway ingest: otlp receiver (gRPC) → ${[...chain, to === 'csv' ? 'csv' : 'discard (receiver alone)'].join(' → ')}`,
  );
  console.log(
    `  requests ${result.requests} × ${result.pointsPerRequest} points (${(result.bytes / 1024).toFixed(0)} KiB each), errors ${result.errors}`,
  );
  console.log(`  points/s (wall):        ${Math.round(result.points / wall).toLocaleString('en')}`);
  console.log(
    `  points per CPU-second:  ${Math.round(result.points / cpuSeconds).toLocaleString('en')} (target 250,000 on one core)`,
  );
  console.log(
    `  gateway CPU:            ${((cpuSeconds / wall) * 100).toFixed(0)}% of one core (user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s)`,
  );
  console.log(`  gateway peak RSS:       ${(rss / 1024 / 1024).toFixed(0)} MiB`);
  if (to === 'csv')
    console.log(`  CSV written:            ${(statSync(csvPath).size / 1024 / 1024).toFixed(0)} MiB`);
}

async function agentExportCost(batches: number): Promise<void> {
  let resolvePort: (port: string) => void = () => undefined;
  const portLine = new Promise<string>((resolve) => (resolvePort = resolve));
  const child = runChild(['--sink'], (line) => {
    resolvePort(line);
  });
  const target = `127.0.0.1:${(await portLine).trim()}`;
  const now = Date.now() / 1000;
  const work = Array.from({ length: batches }, (_, i) => agentBatch('node-1', 32, now + i));
  const points = work.reduce((n, b) => n + countPoints(b), 0);

  const measure = async (exportOne: (b: ResourceMetrics) => Promise<void>): Promise<number> => {
    for (const b of work.slice(0, 20)) await exportOne(b);
    const before = process.cpuUsage();
    for (const b of work) await exportOne(b);
    const cpu = process.cpuUsage(before);
    return (cpu.user + cpu.system) / points;
  };

  const telemetry = new SelfTelemetry(resourceFromAttributes({}));
  const ours = new OtlpExporter(
    settingsFor(telemetry, 'otlp', 'exporter'),
    otlpExporterFactory.configSchema.parse({
      endpoint: target,
      tls: { insecure: true },
      sending_queue: { enabled: false },
    }),
  );
  await ours.start();
  const oursUs = await measure(
    (b) =>
      new Promise((resolve) => {
        ours.export(b, () => {
          resolve();
        });
      }),
  );
  await ours.shutdown();
  const official = new OTLPMetricExporter({ url: `http://${target}`, compression: 'gzip' as never });
  const officialUs = await measure(
    (b) =>
      new Promise((resolve) => {
        official.export(b, () => {
          resolve();
        });
      }),
  );
  await official.shutdown();
  sinkStdin?.end();
  await child;
  await telemetry.shutdown();
  console.log(
    `agent export cost (procfs-like batches of ${countPoints(work[0]!)} points, gRPC + gzip, ${batches} batches):`,
  );
  console.log(`  inframeter otlp exporter:      ${oursUs.toFixed(2)} µs CPU per point`);
  console.log(`  official OTLPMetricExporter:   ${officialUs.toFixed(2)} µs CPU per point`);
  console.log(`  ratio (ours / official):       ${(oursUs / officialUs).toFixed(2)}`);
}

if (args[0] === '--load') {
  await loadGenerator(args[1] ?? '', Number(args[2]), Number(args[3]), Number(args[4]));
} else if (args[0] === '--sink') {
  await sink();
} else {
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '') : '';
  if (only === '' || only === 'discard') await gatewayIngest(arg('seconds', 10), 'discard');
  if (only === '' || only === 'csv') await gatewayIngest(arg('seconds', 10), 'csv');
  if (only === '' || only === 'agent') await agentExportCost(arg('batches', 300));
  process.exit(0);
}
