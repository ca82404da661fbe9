/**
 * OTLP benchmarks, run by hand: `node bench/otlp-ingest.bench.ts [--seconds 10]`.
 *
 * 1. Gateway ingest: this process is the gateway — the otlp receiver (gRPC) → relabel →
 *    batch (when those processors exist) → the csv exporter writing to .bench-out/. A second
 *    process is the load generator: it sends pre-encoded OTLP requests (procfs-like points)
 *    over gRPC with a few requests in flight. Printed: points/s (wall clock), points per
 *    CPU-second of the gateway (one core's throughput), CPU use, peak RSS. Target: 250,000
 *    points/s on one core. The gateway runs with the heap flags of `inframeter run`.
 * 2. Agent export cost: CPU time per point of our otlp exporter (encode, gzip, gRPC) sending
 *    procfs-like batches to a sink process, beside the official OpenTelemetry JS gRPC exporter
 *    sending the same batches.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { csvFactory } from '../exporters/csv/index.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import { batchFactory } from '../processors/batch/index.ts';
import { relabelFactory } from '../processors/relabel/index.ts';
import type { ComponentSettings, MetricSink } from '../kit/component.ts';
import { formatHostPort } from '../kit/config-types.ts';
import { METRICS_EXPORT_PATH } from '../kit/otlp/proto.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { instrumentSink } from '../service/instrumented-sink.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';
import { applyCollectorHeapFlags } from './support/heap-flags.ts';
import { agentBatch, runLoad } from './support/otlp-load.ts';

const OUT = join(import.meta.dirname, '../.bench-out');
const args = process.argv.slice(2);

// As users run it: the gateway measured here gets the heap flags and environment of
// `inframeter run`, and the growing step `inframeter run` sets at start for a gateway (an otlp
// receiver in the config), unless heap flags were given on the command line or
// INFRAMETER_HEAP_FLAGS=off asks for V8's defaults. The child processes (load generator, sink)
// run with V8's defaults.
const heapFlags = args[0] === '--sink' ? '' : applyCollectorHeapFlags(['otlp']);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

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
  const csvSettings = settingsFor(telemetry, 'csv', 'exporter');
  const csv =
    to === 'csv'
      ? csvFactory.create(
          csvSettings,
          // Written as each batch arrives: the receiver answers once its data is on disk.
          csvFactory.configSchema.parse({ path: csvPath, flush_interval: '0ms' }),
        )
      : discard();
  await (csv as { start?: () => Promise<void> }).start?.();
  // Wired as the service wires a pipeline: each processor and exporter counted by an
  // instrumented sink, the receiver pushing into the first processor.
  let head: MetricSink = instrumentSink(csv, csvSettings.telemetry);
  const chain: string[] = [];
  if (to === 'csv') {
    const batchSettings = settingsFor(telemetry, 'batch', 'processor');
    head = instrumentSink(
      batchFactory.create(batchSettings, batchFactory.configSchema.parse({}), head),
      batchSettings.telemetry,
    );
    const relabelSettings = settingsFor(telemetry, 'relabel', 'processor');
    head = instrumentSink(
      relabelFactory.create(
        relabelSettings,
        relabelFactory.configSchema.parse({
          // A rule on every point that keeps them all: the per-point relabelling cost.
          metric_relabel_configs: [{ source_labels: ['never.present'], regex: 'x', action: 'drop' }],
        }),
        head,
      ),
      relabelSettings.telemetry,
    );
    chain.push('relabel', 'batch');
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
  const result = await runLoad(target, seconds, arg('hosts', 8), arg('concurrency', 32));
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
  console.log(
    `  points/s (wall):        ${Math.round(result.points / wall).toLocaleString('en')} (${(result.points / wall / 250_000).toFixed(2)}× the target; the load generator shares the machine)`,
  );
  const perCpu = result.points / cpuSeconds;
  console.log(
    `  points per CPU-second:  ${Math.round(perCpu).toLocaleString('en')} (${(perCpu / 250_000).toFixed(2)}× the 250,000 target on one core)`,
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

if (args[0] === '--sink') {
  await sink();
} else {
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '') : '';
  console.log(`gateway heap flags: ${heapFlags}`);
  if (only === '' || only === 'discard') await gatewayIngest(arg('seconds', 10), 'discard');
  if (only === '' || only === 'csv') await gatewayIngest(arg('seconds', 10), 'csv');
  if (only === '' || only === 'agent') await agentExportCost(arg('batches', 300));
  process.exit(0);
}
