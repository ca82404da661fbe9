import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './support/peers.ts';
import { factories } from '../service/components.ts';
import { FileStore } from '../kit/delivery/file-store.ts';
import { decodeBatches } from '../kit/otlp/decode.ts';
import { countPoints } from '../kit/metrics-data.ts';

/**
 * Two real inframeter processes on loopback: an agent (procfs receiver) exporting OTLP to a
 * gateway (otlp receiver) that writes CSV. The agent also writes CSV, the reference of what
 * it produced.
 */

const ROOT = join(import.meta.dirname, '..');
const needed = ['receiver/procfs', 'receiver/otlp', 'exporter/otlp', 'exporter/csv'];
const registered = new Set(factories.map((f) => `${f.kind}/${f.type}`));
const missing = needed.filter((n) => !registered.has(n));
if (missing.length > 0 && process.env.CI === undefined) {
  console.warn(`otlp e2e skipped: not registered in service/components.ts: ${missing.join(', ')}`);
}

interface Collector {
  readonly child: ChildProcess;
  readonly output: () => string;
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];
afterEach(async () => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Starts `node service/main.ts run --config FILE` and waits for its start-up message. */
async function startCollector(config: string): Promise<Collector> {
  const child = spawn(process.execPath, ['service/main.ts', 'run', '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const append = (c: Buffer): void => {
    output += c.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const deadline = Date.now() + 30_000;
  while (!output.includes('inframeter running')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`collector did not start:\n${output}`);
    await sleep(50);
  }
  return { child, output: () => output };
}

async function stop(collector: Collector, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = collector;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
  running.delete(child);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CSV rows (header excluded) as strings, to compare files row for row. */
function rows(path: string): string[] {
  if (!existsSync(path)) return [];
  const records: unknown = parse(readFileSync(path, 'utf8'), { from_line: 2 });
  return (records as unknown[]).map((r) => JSON.stringify(r));
}

/** Rows in a CSV file, counted by lines (cheap, for polling; rows hold no line breaks). */
function rowCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines += 1;
  return Math.max(0, lines - 1);
}

function counts(list: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of list) out.set(row, (out.get(row) ?? 0) + 1);
  return out;
}

async function waitFor(
  condition: () => boolean,
  ms: number,
  what: string,
  detail: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await sleep(200);
  }
}

async function setup(queue: 'memory' | 'file') {
  const dir = await mkdtemp(join(tmpdir(), 'inframeter-e2e-'));
  dirs.push(dir);
  const port = await freePort();
  const gateway = join(dir, 'gateway.yaml');
  const agent = join(dir, 'agent.yaml');
  await writeFile(
    gateway,
    `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${port}
    auth:
      bearer_token: e2e-token
exporters:
  csv:
    path: ${join(dir, 'gateway.csv')}
    flush_interval: 0s
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [csv]
`,
  );
  await writeFile(
    agent,
    `receivers:
  procfs:
    collection_interval: 1s
exporters:
  otlp:
    endpoint: 127.0.0.1:${port}
    tls:
      insecure: true
    headers:
      authorization: Bearer e2e-token
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
      max_elapsed_time: 0s
    sending_queue:
      storage: ${queue}
${queue === 'file' ? `      directory: ${join(dir, 'queue')}\n` : ''}  csv:
    path: ${join(dir, 'agent.csv')}
    flush_interval: 0s
service:
  pipelines:
    metrics:
      receivers: [procfs]
      exporters: [otlp, csv]
`,
  );
  return {
    dir,
    gateway,
    agent,
    gatewayCsv: join(dir, 'gateway.csv'),
    agentCsv: join(dir, 'agent.csv'),
    queue: join(dir, 'queue'),
  };
}

describe.skipIf(missing.length > 0 && process.env.CI === undefined)(
  'agent → gateway over OTLP (two processes)',
  () => {
    it('delivers every point the agent produced', { timeout: 90_000 }, async () => {
      const s = await setup('memory');
      const gateway = await startCollector(s.gateway);
      const agent = await startCollector(s.agent);
      await waitFor(() => rowCount(s.gatewayCsv) > 0, 20_000, 'the first points at the gateway');
      await sleep(2_000);
      await stop(agent);
      const produced = rows(s.agentCsv);
      expect(produced.length).toBeGreaterThan(0);
      await waitFor(() => rowCount(s.gatewayCsv) >= produced.length, 20_000, 'the gateway to catch up');
      await stop(gateway);
      expect(counts(rows(s.gatewayCsv))).toEqual(counts(produced));
    });

    it('loses nothing while the gateway is down for 30 s', { timeout: 150_000 }, async () => {
      const s = await setup('memory');
      let gateway = await startCollector(s.gateway);
      const agent = await startCollector(s.agent);
      await waitFor(() => rowCount(s.gatewayCsv) > 0, 20_000, 'the first points at the gateway');
      await stop(gateway);
      const atStop = rowCount(s.agentCsv);
      await sleep(30_000);
      const duringOutage = rowCount(s.agentCsv) - atStop;
      expect(duringOutage).toBeGreaterThan(0);
      gateway = await startCollector(s.gateway);
      await sleep(5_000);
      await stop(agent);
      const produced = rows(s.agentCsv);
      await waitFor(
        () => rowCount(s.gatewayCsv) >= produced.length,
        60_000,
        'the gateway to catch up',
        () =>
          `(agent ${produced.length} points, gateway ${rowCount(s.gatewayCsv)})\n${agent.output().slice(-4000)}`,
      );
      await stop(gateway);
      const delivered = rows(s.gatewayCsv);
      console.log(
        `agent produced ${produced.length} points (${duringOutage} while the gateway was down); gateway wrote ${delivered.length}`,
      );
      expect(counts(delivered)).toEqual(counts(produced));
    });

    it(
      'delivers what the persistent queue held when the agent was killed',
      { timeout: 120_000 },
      async () => {
        const s = await setup('file');
        const first = await startCollector(s.agent);
        await waitFor(() => rowCount(s.agentCsv) > 0, 20_000, 'the agent to produce');
        await sleep(4_000);
        await stop(first, 'SIGKILL');
        // What the queue holds on disk after the crash: the points that must arrive.
        const store = new FileStore(s.queue);
        const report = await store.open();
        const queued: string[] = [];
        let queuedPoints = 0;
        for (const record of report.records) {
          for (const batch of decodeBatches(await store.read(record))) queuedPoints += countPoints(batch);
          queued.push(String(record.seq));
        }
        await store.close();
        expect(queuedPoints).toBeGreaterThan(0);
        const beforeKill = counts(rows(s.agentCsv));
        const gateway = await startCollector(s.gateway);
        const second = await startCollector(s.agent);
        expect(second.output()).not.toContain('is in use by process');
        await waitFor(
          () => rowCount(s.gatewayCsv) >= queuedPoints,
          30_000,
          'the replayed points at the gateway',
        );
        await stop(second);
        await stop(gateway);
        // Every replayed point is a point the agent produced before it was killed.
        const delivered = counts(rows(s.gatewayCsv));
        let replayed = 0;
        for (const [row, n] of delivered) if (beforeKill.has(row)) replayed += n;
        console.log(
          `queue held ${queued.length} batches, ${queuedPoints} points at the kill; the gateway got ${replayed} of the agent's earlier points`,
        );
        expect(replayed).toBe(queuedPoints);
      },
    );
  },
);
