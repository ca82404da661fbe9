import { spawn } from 'node:child_process';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { encodeExportRequest } from '../../kit/otlp/encode.ts';
import { METRICS_EXPORT_PATH } from '../../kit/otlp/proto.ts';
import { countPoints } from '../../kit/metrics-data.ts';

/**
 * The OTLP load of the gateway benchmarks: procfs-like batches of many hosts, and a load
 * generator meant to run in its own process (`node bench/support/otlp-load.ts TARGET SECONDS
 * HOSTS CONCURRENCY` prints one JSON line: requests, errors, points, bytes) that sends one
 * pre-encoded request over gRPC again and again with CONCURRENCY requests in flight.
 */

/** A procfs-like batch: CPU times per cpu and mode, memory, network and disk counters of one host. */
export function agentBatch(host: string, cpus: number, time: number): ResourceMetrics {
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

export async function loadGenerator(
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

/** What a load generator run achieved. */
export interface LoadResult {
  requests: number;
  errors: number;
  points: number;
  pointsPerRequest: number;
  bytes: number;
}

/** Runs the load generator in a child process against `target`; resolves with its result. */
export function runLoad(
  target: string,
  seconds: number,
  hosts: number,
  concurrency: number,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [import.meta.filename, target, String(seconds), String(hosts), String(concurrency)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as LoadResult);
      else reject(new Error(`load generator exited with ${String(code)}`));
    });
  });
}

if (process.argv[1] === import.meta.filename) {
  const [target, seconds, hosts, concurrency] = process.argv.slice(2);
  await loadGenerator(target ?? '', Number(seconds), Number(hosts), Number(concurrency));
}
