import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Retries `attempt` every 100 ms until it returns a value or the deadline passes. */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${String(timeoutMs)} ms`, { cause: lastError });
}

/**
 * Until the wall clock has moved `ms` past the call: a test that needs two scrapes' times to
 * differ waits for that, however busy the machine.
 */
export async function clockPasses(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, until - Date.now()));
}

/**
 * True when the test must skip because a Debian package is missing on a developer
 * machine. In CI (`CI` set) a missing package is a failure, never a skip.
 */
export function missing(binary: string, debianPackage: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  if (found) return false;
  const message = `${binary} not found: install the Debian package ${debianPackage} (npm run test:deps)`;
  if (process.env.CI !== undefined) throw new Error(message);
  console.warn(`skipping: ${message}`);
  return true;
}

/** A child process whose output is kept for error messages. */
export interface Peer {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startPeer(command: string, args: readonly string[], options: { cwd?: string } = {}): Peer {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => {
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** One data point of a batch, flattened. */
export interface Row {
  metric: string;
  attributes: Record<string, unknown>;
  value: unknown;
}

export function rowsOf(batch: ResourceMetrics): Row[] {
  return batch.scopeMetrics
    .flatMap((s) => s.metrics)
    .flatMap((m) =>
      m.dataPoints.map((p: DataPoint<unknown>) => ({
        metric: m.descriptor.name,
        attributes: { ...p.attributes },
        value: p.value,
      })),
    );
}

/** A sample of the Prometheus text format: name, labels, value. */
export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads the samples of a text exposition (label values unescaped: \\\\, \\" and \\n). */
export function parseSamples(text: string): ExpositionSample[] {
  const samples: ExpositionSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const [, name = '', labelText = '', value = ''] = match;
    const labels: Record<string, string> = {};
    for (const label of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = (label[2] ?? '').replace(/\\(.)/g, (_all, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    samples.push({ name, labels, value: Number(value) });
  }
  return samples;
}
