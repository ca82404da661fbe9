/**
 * Sustained overload of a gateway, run by hand: `node bench/otlp-overload.bench.ts
 * [--seconds 60] [--delay-ms 250] [--concurrency 16] [--queue-points 200000] [--queue-bytes 16MiB]`.
 *
 * Three processes: the built collector as a gateway (otlp receiver → batch → otlp exporter
 * with a bounded memory sending queue), a load generator sending procfs-like OTLP as fast as
 * the gateway takes it, and a slow downstream OTLP/gRPC server that answers each export
 * only after `--delay-ms`: it drains far less than the load produces, so the queue fills
 * and its oldest batches are dropped, many times over. Printed: the gateway's RSS over time
 * (it must level off: the queue's bounds hold), the queue's size and bytes against their
 * bounds, and the accounting from the gateway's own telemetry (`inframeter_*` on its
 * /metrics): points accepted = points acknowledged by the downstream + points dropped
 * (`reason="queue_full"`) + points still queued, exactly.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { parseByteSize } from '../kit/delivery/config.ts';
import { METRICS_EXPORT_PATH } from '../kit/otlp/proto.ts';
import { decodeMetricsRequest } from '../kit/otlp/decode.ts';
import { runLoad } from './support/otlp-load.ts';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, '.bench-out');
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};

// ─── slow downstream (child process) ─────────────────────────────────────────
/**
 * An OTLP/gRPC server that answers each export after `delayMs`, counting the points it
 * received. Commands on stdin: `hold` (stop answering: nothing is acknowledged any more),
 * `count` (prints the points received so far).
 */
async function downstream(delayMs: number): Promise<void> {
  let received = 0;
  let holding = false;
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
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        received += decodeMetricsRequest(call.request).points;
        if (holding) return; // Never answered: the call stays in flight.
        setTimeout(() => {
          if (!holding) callback(null, Buffer.alloc(0));
        }, delayMs);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => {
      if (e) reject(e);
      else resolve(p);
    });
  });
  process.stdout.write(`port ${port}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'hold') holding = true;
    if (line === 'count') process.stdout.write(`received ${received}\n`);
  }
  server.forceShutdown();
}

/** A child process speaking in lines; `next()` resolves with the next line it prints. */
class LineChild {
  readonly child: ChildProcess;
  readonly #lines: string[] = [];
  #waiting: ((line: string) => void) | undefined;
  constructor(
    command: string,
    argv: string[],
    options: { cwd?: string; stderr?: 'inherit' | 'ignore' } = {},
  ) {
    this.child = spawn(command, argv, {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'],
    });
    if (this.child.stdout === null) throw new Error('no stdout');
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting === undefined) this.#lines.push(line);
      else waiting(line);
    });
  }
  next(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => (this.#waiting = resolve));
  }
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }
}

/** The value of one series of the gateway's /metrics (0 when absent). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A port free on loopback now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
const n = (value: number): string => Math.round(value).toLocaleString('en');

async function overload(): Promise<void> {
  const seconds = Number(option('seconds', '60'));
  const delayMs = Number(option('delay-ms', '250'));
  const concurrency = Number(option('concurrency', '16'));
  const queuePoints = Number(option('queue-points', '200000'));
  const queueBytesText = option('queue-bytes', '16MiB');
  const queueBytes = parseByteSize(queueBytesText) ?? 0;

  const slow = new LineChild(process.execPath, [import.meta.filename, '--downstream', String(delayMs)]);
  const downstreamPort = Number((await slow.next()).split(' ')[1]);

  mkdirSync(OUT, { recursive: true });
  const otlpPort = await freePort();
  const telemetryPort = await freePort();
  const config = join(OUT, 'otlp-overload.yaml');
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${otlpPort}, max_recv_msg_size: 64MiB }
processors:
  batch: {}
exporters:
  otlp:
    endpoint: 127.0.0.1:${downstreamPort}
    tls: { insecure: true }
    timeout: 60s
    sending_queue:
      queue_size: ${queuePoints}
      max_bytes: ${queueBytesText}
      num_consumers: 1
service:
  telemetry:
    logs: { level: warn }
    metrics: { address: 127.0.0.1:${telemetryPort} }
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
`,
  );
  // The built collector, as it is deployed.
  const gateway = spawn(
    process.execPath,
    [join(ROOT, 'dist/service/main.js'), 'run', '--config', config, '--log-level', 'error'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const otlpTarget = `127.0.0.1:${otlpPort}`;
  const telemetryUrl = `http://127.0.0.1:${telemetryPort}/metrics`;
  for (let i = 0; ; i++) {
    const ready = await fetch(telemetryUrl.replace('/metrics', '/readyz')).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 200 || gateway.exitCode !== null) throw new Error('the gateway did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pid = gateway.pid ?? 0;
  const scrape = async (): Promise<string> => (await fetch(telemetryUrl)).text();

  console.log(
    `sustained overload: load generator → gateway (otlp → batch → otlp exporter, memory queue ${n(queuePoints)} points / ${queueBytesText}) → downstream answering after ${delayMs} ms`,
  );
  console.log(
    `  ${'t (s)'.padStart(6)} ${'RSS MiB'.padStart(8)} ${'queued points'.padStart(14)} ${'queued MiB'.padStart(10)} ${'dropped'.padStart(12)} ${'acknowledged'.padStart(13)}`,
  );
  const samples: { t: number; rss: number; queued: number; bytes: number }[] = [];
  const started = performance.now();
  let maxQueued = 0;
  let maxBytes = 0;
  const sample = async (print: boolean): Promise<void> => {
    const text = await scrape();
    const t = (performance.now() - started) / 1000;
    const rss = rssOf(pid);
    const queued = metric(text, 'inframeter_exporter_queue_size');
    const bytes = metric(text, 'inframeter_exporter_queue_bytes');
    maxQueued = Math.max(maxQueued, queued);
    maxBytes = Math.max(maxBytes, bytes);
    samples.push({ t, rss, queued, bytes });
    if (print) {
      const dropped = metric(text, 'inframeter_component_points_dropped_total', { reason: 'queue_full' });
      const sent = metric(text, 'inframeter_exporter_points_sent_total');
      console.log(
        `  ${t.toFixed(0).padStart(6)} ${mib(rss).padStart(8)} ${n(queued).padStart(14)} ${mib(bytes).padStart(10)} ${n(dropped).padStart(12)} ${n(sent).padStart(13)}`,
      );
    }
  };
  let ticks = 0;
  const sampler = setInterval(() => {
    ticks += 1;
    void sample(ticks % 10 === 0);
  }, 500);
  const load = await runLoad(otlpTarget, seconds, 8, concurrency);
  clearInterval(sampler);
  // Freeze the books: the downstream stops answering, the batch processor's last batch goes
  // into the queue; then nothing moves and one scrape reads a consistent state.
  slow.send('hold');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const books = (t: string): string =>
    ['inframeter_component_points_', 'inframeter_exporter_']
      .flatMap((prefix) => t.split('\n').filter((line) => line.startsWith(prefix)))
      .join('\n');
  const first = books(await scrape());
  await new Promise((resolve) => setTimeout(resolve, 500));
  const text = await scrape();
  slow.send('count');
  const receivedLine = await slow.next();
  const received = Number(receivedLine.split(' ')[1]);
  // Killed: its books are read, and a clean stop would only wait for the held sends.
  gateway.kill('SIGKILL');
  slow.child.stdin?.end();

  const accepted = metric(text, 'inframeter_component_points_exported_total', {
    component_id: 'otlp',
    component_kind: 'receiver',
  });
  const exporterIn = metric(text, 'inframeter_component_points_received_total', {
    component_id: 'otlp',
    component_kind: 'exporter',
  });
  const dropped = metric(text, 'inframeter_component_points_dropped_total', { reason: 'queue_full' });
  const sent = metric(text, 'inframeter_exporter_points_sent_total');
  const queued = metric(text, 'inframeter_exporter_queue_size');
  const failed = metric(text, 'inframeter_component_points_failed_total');
  // Thirds of the run: the RSS of the last must not exceed that of the middle one by much.
  const third = (k: number): typeof samples =>
    samples.filter((s) => s.t > (seconds * k) / 3 && s.t <= (seconds * (k + 1)) / 3);
  const peak = (list: typeof samples): number => Math.max(0, ...list.map((s) => s.rss));
  const [early, middle, late] = [peak(third(0)), peak(third(1)), peak(third(2))];
  console.log(
    `  load: ${n(load.requests)} requests × ${load.pointsPerRequest} points in ${seconds} s (${n(load.points / seconds)} points/s offered), ${load.errors} refused`,
  );
  console.log(
    `  downstream drained ${n(received)} points (${n(received / seconds)}/s): ${(load.points / Math.max(received, 1)).toFixed(1)}× less than offered; the queue filled ${(dropped / queuePoints).toFixed(0)} times over`,
  );
  console.log(
    `  gateway peak RSS by third of the run: ${mib(early)} → ${mib(middle)} → ${mib(late)} MiB (last third ${((late / Math.max(middle, 1) - 1) * 100).toFixed(1)} % from the middle one)`,
  );
  console.log(
    `  queue bounds held: at most ${n(maxQueued)} points (bound ${n(queuePoints)}) and ${mib(maxBytes)} MiB (bound ${mib(queueBytes)} MiB)`,
  );
  console.log(
    `  accounting (gateway telemetry): accepted ${n(accepted)} = acknowledged ${n(sent)} + dropped queue_full ${n(dropped)} + queued ${n(queued)} + failed ${n(failed)} → ${accepted === sent + dropped + queued + failed ? 'exact' : `MISMATCH by ${n(accepted - sent - dropped - queued - failed)}`}`,
  );
  console.log(
    `  cross-checks: load generator's accepted points ${n(load.points)} ${load.points === accepted ? '=' : '≠'} receiver's; exporter received ${n(exporterIn)} ${exporterIn === accepted ? '=' : '≠'}; downstream received ${n(received)} ≥ acknowledged; books unchanged between two scrapes: ${first === books(text) ? 'yes' : 'no'}`,
  );
}

if (args[0] === '--downstream') {
  await downstream(Number(args[1]));
} else {
  await overload();
  process.exit(0);
}
