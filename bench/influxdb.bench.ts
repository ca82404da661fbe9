/**
 * influxdb exporter cost, run by hand: `node bench/influxdb.bench.ts [--batches 300] [--rounds 5]`.
 *
 * CPU time per point of the influxdb exporter (line protocol written at export, the delivery
 * queue, gzip, HTTP) beside the otlp exporter (OTLP encoding, the same queue, gzip,
 * OTLP/HTTP) sending the same procfs-like batches, in the same process, one after the
 * other in slices taken in turn, in several rounds. Both post to the same sink process (an HTTP server that reads
 * each body and answers 204), so only the exporters' own work is measured. Printed per
 * round: µs of CPU per point for each, points per CPU-second, the ratio influxdb / otlp
 * (goal: at most 1.5) and the machine's load average; then the worst ratio.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { influxdbExporterFactory } from '../exporters/influxdb/index.ts';
import { InfluxdbExporter } from '../exporters/influxdb/influxdb.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import type { ComponentSettings, Exporter } from '../kit/component.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';
import { agentBatch } from './support/otlp-load.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

/** The sink: reads every request body and answers 204 (line protocol) or 200 empty (OTLP). */
async function sink(): Promise<void> {
  const server = createServer((request, response) => {
    request.on('data', () => undefined);
    request.on('end', () => {
      response.writeHead(request.url?.startsWith('/v1/') === true ? 200 : 204);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${String((server.address() as AddressInfo).port)}\n`);
  // Runs until the parent closes stdin.
  await new Promise((resolve) => process.stdin.on('end', resolve).resume());
  server.close();
}

async function main(): Promise<void> {
  const batches = arg('batches', 300);
  const rounds = arg('rounds', 5);
  const child = spawn(process.execPath, [import.meta.filename, '--sink'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const endpoint = `http://127.0.0.1:${port.trim()}`;
  const now = Date.now() / 1000;
  const work = Array.from({ length: batches }, (_, i) => agentBatch('node-1', 32, now + i));
  const points = work.reduce((n, b) => n + countPoints(b), 0);
  const telemetry = new SelfTelemetry(resourceFromAttributes({}));
  const settings = (id: string): ComponentSettings => ({
    id,
    kind: 'exporter',
    logger: createSilentLogger(),
    telemetry: telemetry.forComponent(id, 'exporter'),
    meter: telemetry.meter,
    resource: resourceFromAttributes({}),
  });
  const exportAll = async (exporter: Exporter, list: readonly ResourceMetrics[]): Promise<void> => {
    for (const b of list)
      await new Promise<void>((resolve) => {
        exporter.export(b, () => {
          resolve();
        });
      });
    await exporter.forceFlush();
  };
  /** CPU µs to export `list` through the queue and wait until all of it is sent. */
  const cpuOf = async (exporter: Exporter, list: readonly ResourceMetrics[]): Promise<number> => {
    const before = process.cpuUsage();
    await exportAll(exporter, list);
    const cpu = process.cpuUsage(before);
    return cpu.user + cpu.system;
  };
  /**
   * µs of CPU per point of each exporter over every batch, in slices taken in turn, so that
   * a change of the machine's load falls on both alike.
   */
  const measure = async (a: Exporter, b: Exporter): Promise<[number, number]> => {
    let cpuA = 0;
    let cpuB = 0;
    const slice = Math.ceil(work.length / 10);
    for (let i = 0; i < work.length; i += slice) {
      const part = work.slice(i, i + slice);
      cpuA += await cpuOf(a, part);
      cpuB += await cpuOf(b, part);
    }
    return [cpuA / points, cpuB / points];
  };
  const otlp = new OtlpExporter(
    settings('otlp'),
    otlpExporterFactory.configSchema.parse({ endpoint, protocol: 'http/protobuf', compression: 'gzip' }),
  );
  const influx = new InfluxdbExporter(
    settings('influxdb'),
    influxdbExporterFactory.configSchema.parse({ endpoint, database: 'bench', compression: 'gzip' }),
  );
  await otlp.start();
  await influx.start();
  console.log(
    `influxdb vs otlp exporter: ${String(batches)} procfs-like batches of ${String(countPoints(work[0]!))} points (${String(points)} points) per measure, HTTP + gzip, memory queue`,
  );
  // Warm-up: one full pass each, unmeasured, so that both run JIT-compiled code.
  await exportAll(otlp, work);
  await exportAll(influx, work);
  let worst = 0;
  let totalInflux = 0;
  let totalOtlp = 0;
  for (let round = 1; round <= rounds; round += 1) {
    const [otlpUs, influxUs] = await measure(otlp, influx);
    const ratio = influxUs / otlpUs;
    worst = Math.max(worst, ratio);
    totalInflux += influxUs;
    totalOtlp += otlpUs;
    const [one, five] = loadavg();
    console.log(
      `  round ${String(round)}: influxdb ${influxUs.toFixed(2)} µs/point (${Math.round(1e6 / influxUs).toLocaleString('en')} points/CPU-s), otlp ${otlpUs.toFixed(2)} µs/point (${Math.round(1e6 / otlpUs).toLocaleString('en')} points/CPU-s), ratio ${ratio.toFixed(2)}; load ${one?.toFixed(2) ?? '?'} ${five?.toFixed(2) ?? '?'}`,
    );
  }
  console.log(
    `  all rounds: influxdb ${(totalInflux / rounds).toFixed(2)} µs/point, otlp ${(totalOtlp / rounds).toFixed(2)} µs/point, ratio ${(totalInflux / totalOtlp).toFixed(2)}; worst round ${worst.toFixed(2)} (goal ≤ 1.5)`,
  );
  if (influx.status().sentPoints === 0) throw new Error('the influxdb exporter sent nothing');
  await otlp.shutdown();
  await influx.shutdown();
  await telemetry.shutdown();
  child.stdin.end();
}

if (args[0] === '--sink') await sink();
else await main();
