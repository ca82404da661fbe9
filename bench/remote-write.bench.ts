/**
 * Prometheus remote-write benchmark, run by hand: `node bench/remote-write.bench.ts
 * [--hosts 100] [--rounds 40] [--runs 3] [--prometheus-seconds 30] [--series 20000]`
 * (or `npm run bench -- remote-write`).
 *
 * 1. Export cost: CPU time per data point of the `prometheusremotewrite` exporter (names and
 *    labels, stale-marker bookkeeping, protobuf, snappy, HTTP) beside the `otlp` exporter
 *    (OTLP/HTTP protobuf, gzip, its default compression) on the same procfs-like batches in
 *    the same run, both through their memory queues to a sink in a child process that
 *    answers 204 (so the receiving side is not counted). Two shapes of batches:
 *    - `agent`: each host's resource, scope and attribute objects are the same from one
 *      scrape to the next, as the snapshot producer of a scraper hands them out;
 *    - `gateway`: new objects for every batch, as batches decoded from OTLP requests are.
 *    Each exporter runs `--runs` times in alternation; the worst run of each is kept.
 *    Goal: this exporter within 1.5× of the otlp exporter's CPU per point.
 * 2. The ecosystem's anchor: Prometheus 2.42 (Debian) scraping `--series` series every
 *    second from the sink and remote-writing them to it, beside the same Prometheus without
 *    remote_write: the difference of their CPU time over the samples Prometheus reports sent
 *    is Prometheus's own remote-write cost per sample. VictoriaMetrics' `vmagent` is not
 *    packaged in Debian, so it is not measured.
 *
 * Every figure is printed with the machine's load average (os.loadavg) beside it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, MetricDescriptor, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { configSchema as otlpConfigSchema } from '../exporters/otlp/config.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { configSchema as rwConfigSchema } from '../exporters/prometheusremotewrite/config.ts';
import { RemoteWriteExporter } from '../exporters/prometheusremotewrite/prometheusremotewrite.ts';
import type { ComponentSettings, Exporter } from '../kit/component.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// ─── sink (child process): 204 to every POST, an exposition on GET /metrics ──
function sink(series: number): void {
  let scrape = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      scrape += 1;
      const lines: string[] = ['# TYPE bench_cpu_seconds_total counter'];
      for (let i = 0; i < series; i += 1) {
        lines.push(`bench_cpu_seconds_total{cpu="${i >> 3}",mode="m${i & 7}"} ${i + scrape * 0.25}`);
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    server.close();
    process.exit(0);
  });
}

async function startSink(series: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [import.meta.filename, '--sink', '--series', String(series)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => {
      resolve(Number(chunk.toString().trim()));
    });
    child.once('exit', () => {
      reject(new Error('sink exited'));
    });
  });
  return { child, port };
}

// ─── batches ─────────────────────────────────────────────────────────────────
const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'];

/** The fixed parts of one host's batches: resource, scope, descriptors, attribute objects. */
interface HostShape {
  resource: ResourceMetrics['resource'];
  scope: { name: string; version: string };
  metrics: { descriptor: MetricDescriptor; monotonic: boolean; attributes: Attributes[] }[];
}

function hostShape(host: string, cpus: number): HostShape {
  const descriptor = (name: string, unit: string): MetricDescriptor => ({
    name,
    description: '',
    unit,
    valueType: ValueType.DOUBLE,
  });
  const devices = ['eth0', 'eth1', 'lo'].flatMap((device) =>
    ['receive', 'transmit'].map((direction) => ({
      'network.interface.name': device,
      'network.io.direction': direction,
    })),
  );
  const disks = ['sda', 'sdb', 'nvme0n1'].flatMap((device) =>
    ['read', 'write'].map((direction) => ({ 'system.device': device, 'disk.io.direction': direction })),
  );
  return {
    resource: resourceFromAttributes({ 'host.name': host, 'service.name': 'inframeter', 'os.type': 'linux' }),
    scope: { name: 'inframeter/procfs', version: '0.1.0' },
    metrics: [
      {
        descriptor: descriptor('system.cpu.time', 's'),
        monotonic: true,
        attributes: Array.from({ length: cpus }, (_, c) =>
          MODES.map((mode) => ({ cpu: String(c), 'cpu.mode': mode })),
        ).flat(),
      },
      { descriptor: descriptor('system.network.io', 'By'), monotonic: true, attributes: devices },
      {
        descriptor: descriptor('system.network.packet.count', '{packet}'),
        monotonic: true,
        attributes: devices,
      },
      { descriptor: descriptor('system.disk.io', 'By'), monotonic: true, attributes: disks },
      { descriptor: descriptor('system.disk.operations', '{operation}'), monotonic: true, attributes: disks },
      {
        descriptor: descriptor('system.memory.usage', 'By'),
        monotonic: false,
        attributes: ['used', 'free', 'cached', 'buffers'].map((state) => ({ 'system.memory.state': state })),
      },
    ],
  };
}

/** One scrape of a host at `timeMs`; `fresh` copies every object, as an OTLP decode would. */
function hostBatch(shape: HostShape, timeMs: number, fresh: boolean): ResourceMetrics {
  const end: HrTime = [Math.floor(timeMs / 1000), (timeMs % 1000) * 1_000_000];
  const start: HrTime = [Math.floor(timeMs / 1000) - 3600, 0];
  const metrics: MetricData[] = shape.metrics.map((m, k) => ({
    descriptor: fresh ? { ...m.descriptor } : m.descriptor,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: m.monotonic,
    dataPoints: m.attributes.map((attributes, i) => ({
      startTime: start,
      endTime: end,
      attributes: fresh ? { ...attributes } : attributes,
      value: 1000 + i * 3.25 + k + timeMs / 1000,
    })),
  }));
  return {
    resource: fresh ? resourceFromAttributes({ ...shape.resource.attributes }) : shape.resource,
    scopeMetrics: [{ scope: fresh ? { ...shape.scope } : shape.scope, metrics }],
  };
}

function settings(id: string): ComponentSettings {
  const resource = resourceFromAttributes({ 'service.name': 'bench' });
  const noop = (): void => undefined;
  return {
    id,
    kind: 'exporter',
    logger: createSilentLogger(),
    telemetry: { received: noop, exported: noop, failed: noop, dropped: noop, scraped: noop },
    meter: new SelfTelemetry(resource).meter,
    resource,
  };
}

/** CPU seconds this process spent exporting every batch and draining the queue. */
async function measure(exporter: Exporter, batches: readonly ResourceMetrics[]): Promise<number> {
  await exporter.start?.();
  const before = process.cpuUsage();
  for (const batch of batches) {
    await new Promise<void>((resolve, reject) => {
      exporter.export(batch, (result) => {
        if (result.error !== undefined) reject(result.error);
        else resolve();
      });
    });
  }
  await exporter.forceFlush();
  const used = process.cpuUsage(before);
  await exporter.shutdown();
  return (used.user + used.system) / 1e6;
}

/** Measures both exporters on both shapes; returns this exporter's worst points per CPU-second by shape. */
async function exportCost(port: number): Promise<Record<'agent' | 'gateway', number>> {
  const hosts = arg('hosts', 100);
  const rounds = arg('rounds', 40);
  const runs = arg('runs', 3);
  const shapes = Array.from({ length: hosts }, (_, h) => hostShape(`node-${h}`, 16));
  const t0 = Date.now() - rounds * 10_000;
  const queue = { queue_size: 100_000_000, max_bytes: '4GiB' };
  const result = { agent: 0, gateway: 0 };
  for (const shape of ['agent', 'gateway'] as const) {
    const batches: ResourceMetrics[] = [];
    for (let r = 0; r < rounds; r += 1)
      for (const s of shapes) batches.push(hostBatch(s, t0 + r * 10_000, shape === 'gateway'));
    const points = batches.reduce((total, b) => total + countPoints(b), 0);
    const worst = { otlp: Infinity, rw: Infinity };
    // One run of each, not counted, so that both are compiled before they are measured.
    for (let run = -1; run < runs; run += 1) {
      const otlp = new OtlpExporter(
        settings('otlp'),
        otlpConfigSchema.parse({
          endpoint: `http://127.0.0.1:${port}`,
          protocol: 'http/protobuf',
          sending_queue: queue,
        }),
      );
      const otlpRate = points / (await measure(otlp, batches));
      const rw = new RemoteWriteExporter(
        settings('prometheusremotewrite'),
        rwConfigSchema.parse({
          endpoint: `http://127.0.0.1:${port}/api/v1/write`,
          sending_queue: queue,
          ...(args.includes('--shards') ? { shards: arg('shards', 4) } : {}),
        }),
      );
      const rwRate = points / (await measure(rw, batches));
      if (run < 0) continue;
      worst.otlp = Math.min(worst.otlp, otlpRate);
      worst.rw = Math.min(worst.rw, rwRate);
      console.log(
        `  ${shape} run ${run + 1}: otlp ${Math.round(otlpRate).toLocaleString('en')} points/CPU-s, prometheusremotewrite ${Math.round(rwRate).toLocaleString('en')} points/CPU-s (load ${load()})`,
      );
    }
    const ratio = worst.otlp / worst.rw;
    result[shape] = worst.rw;
    console.log(
      `${shape} batches (${hosts} hosts x ${rounds} scrapes, ${points.toLocaleString('en')} points), worst of ${runs}: ` +
        `otlp ${Math.round(worst.otlp).toLocaleString('en')} points/CPU-s, prometheusremotewrite ${Math.round(worst.rw).toLocaleString('en')} points/CPU-s; ` +
        `${(1e6 / worst.rw).toFixed(2)} µs vs ${(1e6 / worst.otlp).toFixed(2)} µs CPU per point: ${ratio.toFixed(2)}x the otlp exporter's (goal <= 1.5x) ${ratio <= 1.5 ? 'OK' : 'OVER'} (load ${load()})`,
    );
  }
  return result;
}

// ─── Prometheus's own remote write ───────────────────────────────────────────
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of proc(5), 12 and 13 after the command.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function metricValue(url: string, names: readonly string[]): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const name = line.split(/[{ ]/, 1)[0] ?? '';
    if (names.includes(name)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function prometheusRun(
  sinkPort: number,
  remoteWrite: boolean,
  seconds: number,
): Promise<{ cpu: number; samples: number; scraped: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-bench-prom-'));
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, scrape_timeout: 900ms }',
      'scrape_configs:',
      `  - { job_name: bench, static_configs: [ { targets: ['127.0.0.1:${sinkPort}'] } ] }`,
      ...(remoteWrite ? ['remote_write:', `  - url: http://127.0.0.1:${sinkPort}/api/v1/write`] : []),
      '',
    ].join('\n'),
  );
  const child = spawn(
    '/usr/bin/prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ],
    { stdio: 'ignore' },
  );
  const api = `http://127.0.0.1:${port}`;
  const pid = child.pid ?? 0;
  try {
    for (let i = 0; i < 300; i += 1) {
      const ok = await fetch(`${api}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Warm-up: the first scrapes create the series.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const sentNames = [
      'prometheus_remote_storage_samples_total',
      'prometheus_remote_storage_succeeded_samples_total',
    ];
    const scrapedNames = ['prometheus_tsdb_head_samples_appended_total'];
    const cpu0 = cpuSecondsOf(pid);
    const sent0 = await metricValue(`${api}/metrics`, sentNames);
    const scraped0 = await metricValue(`${api}/metrics`, scrapedNames);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = cpuSecondsOf(pid) - cpu0;
    const samples = (await metricValue(`${api}/metrics`, sentNames)) - sent0;
    const scraped = (await metricValue(`${api}/metrics`, scrapedNames)) - scraped0;
    return { cpu, samples, scraped };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function prometheusAnchor(sinkPort: number, ours: Record<'agent' | 'gateway', number>): Promise<void> {
  if (!existsSync('/usr/bin/prometheus')) {
    console.log('Prometheus not installed (Debian package prometheus): its own remote write is not measured');
    return;
  }
  const seconds = arg('prometheus-seconds', 30);
  const series = arg('series', 20_000);
  const without = await prometheusRun(sinkPort, false, seconds);
  const withRw = await prometheusRun(sinkPort, true, seconds);
  const perScraped = (run: { cpu: number; scraped: number }): string =>
    ((run.cpu / run.scraped) * 1e6).toFixed(2);
  console.log(
    `Prometheus 2.42 scraping ${series} series every 1 s for ${seconds} s: ${perScraped(without)} µs CPU per sample without remote_write, ` +
      `${perScraped(withRw)} µs with it (${withRw.samples.toLocaleString('en')} samples sent) (load ${load()})`,
  );
  if (withRw.samples > 0) {
    const rwPerSample = (withRw.cpu / withRw.scraped - without.cpu / without.scraped) * 1e6;
    console.log(
      `  Prometheus's own remote write: about ${rwPerSample.toFixed(2)} µs CPU per sample, ${Math.round(1e6 / Math.max(rwPerSample, 1e-9)).toLocaleString('en')} samples/CPU-s (difference of the two runs; noisy on a busy machine); ` +
        `ours per point: ${(1e6 / ours.agent / rwPerSample).toFixed(2)}x (agent batches), ${(1e6 / ours.gateway / rwPerSample).toFixed(2)}x (gateway batches) Prometheus's (load ${load()})`,
    );
  }
  console.log('VictoriaMetrics vmagent: not packaged in Debian, not measured');
}

async function main(): Promise<void> {
  if (args[0] === '--sink') {
    sink(arg('series', 20_000));
    return;
  }
  const { child, port } = await startSink(arg('series', 20_000));
  try {
    console.log(`remote-write export cost (load ${load()})`);
    const ours = await exportCost(port);
    await prometheusAnchor(port, ours);
  } finally {
    child.stdin?.end();
  }
}

await main();
