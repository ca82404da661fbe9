/**
 * What the default configuration allocates in V8's heap per scrape, by site: the built
 * collector on the embedded default configuration (procfs, cgroups and process into Prometheus
 * and CSV) at `--interval` ms (default 400, its series expiry three intervals, as in
 * bench/agent-memory.bench.ts), with the shipped heap flags and malloc settings, its /metrics
 * fetched once per interval (gzip accepted, as Prometheus does), profiled over the inspector
 * with V8's sampling heap profiler in two windows of `--seconds` each (default 40):
 * - every allocation, whether collected since or not;
 * - only what survived the young generation's collections (alive at the end, or collected by
 *   a full collection): what is promoted into the old generation.
 * Prints, for each window, the bytes per scrape by our code's frame nearest the allocation
 * (file:line and function; "(outside our code)" when none), by the allocating frame itself, and
 * by both (`ours <- allocating`):
 *
 *   npm run build && node bench/agent-alloc.ts [--interval 400] [--seconds 40] [--top 25]
 *
 * Sampled (one sample every 16 KiB allocated on average), so small figures are approximate.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_CONFIG } from '../service/default-config.ts';
import { HEAP_FLAGS, HEAP_FLAGS_APPLIED, heapFlagsEnv } from '../service/heap-flags.ts';
import { freePort } from '../test/support/peers.ts';

const { values: args } = parseArgs({
  options: {
    interval: { type: 'string', default: '400' },
    seconds: { type: 'string', default: '40' },
    top: { type: 'string', default: '25' },
  },
});
const INTERVAL_MS = Number(args.interval);
const WINDOW_MS = Number(args.seconds) * 1000;
const TOP = Number(args.top);
const MAIN = new URL('../dist/service/main.js', import.meta.url).pathname;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}
interface SamplingProfile {
  head: ProfileNode;
}

/** A minimal client of the inspector protocol over the collector's WebSocket. */
class Inspector {
  readonly #socket: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, (result: unknown) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id === undefined) return;
      const resolve = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error !== undefined) throw new Error(JSON.stringify(message.error));
      resolve?.(message.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    return new Inspector(socket);
  }

  call(method: string, params: object = {}): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#socket.close();
  }
}

/** Our code's files in the built tree (not Node's, not a package's). */
function isOurs(url: string): boolean {
  return url.includes('/dist/') && !url.includes('node_modules');
}

function frameName(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/dist\//, '').replace(/^.*\/node_modules\//, '');
  return `${file}:${String(frame.lineNumber + 1)} ${frame.functionName || '(anonymous)'}`;
}

/** Bytes by our frame nearest each allocation, and by the allocating frame. */
function bySite(profile: SamplingProfile): {
  ours: Map<string, number>;
  leaf: Map<string, number>;
  pairs: Map<string, number>;
} {
  const ours = new Map<string, number>();
  const leaf = new Map<string, number>();
  const pairs = new Map<string, number>();
  const walk = (node: ProfileNode, nearestOurs: string): void => {
    const here = isOurs(node.callFrame.url) ? frameName(node.callFrame) : nearestOurs;
    if (node.selfSize > 0) {
      ours.set(here, (ours.get(here) ?? 0) + node.selfSize);
      const name = frameName(node.callFrame);
      leaf.set(name, (leaf.get(name) ?? 0) + node.selfSize);
      const pair = name === here ? here : `${here} <- ${name}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, '(outside our code)');
  return { ours, leaf, pairs };
}

async function scrapesOf(telemetryPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${String(telemetryPort)}/metrics`)).text();
  let scrapes = Infinity;
  for (const line of text.split('\n'))
    if (line.startsWith('inframeter_scrape_duration_seconds_count{'))
      scrapes = Math.min(scrapes, Number(line.slice(line.lastIndexOf(' ') + 1)));
  return Number.isFinite(scrapes) ? scrapes : 0;
}

function print(title: string, sites: Map<string, number>, scrapes: number): void {
  const total = [...sites.values()].reduce((a, b) => a + b, 0);
  console.log(`\n${title}: ${(total / scrapes / 1024).toFixed(1)} KiB per scrape in all`);
  const rows = [...sites].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  for (const [site, bytes] of rows)
    console.log(`  ${(bytes / scrapes / 1024).toFixed(1).padStart(8)} KiB  ${site}`);
}

/** Replaces `from` in `text`, which must hold it. */
function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the default configuration no longer holds ${from}`);
  return text.replace(from, to);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-agent-alloc-'));
  const [port, telemetry] = [await freePort(), await freePort()];
  let text = replaceOnce(DEFAULT_CONFIG, '127.0.0.1:9464', `127.0.0.1:${String(port)}`);
  text = replaceOnce(text, '127.0.0.1:8888', `127.0.0.1:${String(telemetry)}`);
  text = replaceOnce(
    text,
    'path: ./inframeter-metrics.csv',
    `path: ${join(dir, 'default.csv')}\n    rotation: { max_size: 64MiB, max_files: 1 }`,
  );
  text = text.replaceAll('collection_interval: 10s', `collection_interval: ${String(INTERVAL_MS)}ms`);
  text = replaceOnce(text, 'metric_expiration: 30s', `metric_expiration: ${String(3 * INTERVAL_MS)}ms`);
  const config = join(dir, 'default.yaml');
  writeFileSync(config, text);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== HEAP_FLAGS_APPLIED && k !== 'INFRAMETER_HEAP_FLAGS'),
  );
  const child = spawn(
    process.execPath,
    [...HEAP_FLAGS, '--inspect=127.0.0.1:0', MAIN, 'run', '--config', config],
    { env: heapFlagsEnv(env), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stopFetching = false;
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        const match = /ws:\/\/\S+/.exec(err);
        if (match !== null) resolve(match[0]);
      });
      child.once('exit', (code) => {
        reject(new Error(`the collector exited with code ${String(code)}: ${err}`));
      });
    });
    const inspector = await Inspector.connect(wsUrl);
    await inspector.call('Runtime.runIfWaitingForDebugger');
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${String(telemetry)}/readyz`)).ok) break;
      } catch {
        // not yet listening
      }
      if (i > 300) throw new Error('the collector did not become ready within 60 s');
      await sleep(200);
    }
    void (async () => {
      while (!stopFetching) {
        const started = performance.now();
        try {
          await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).arrayBuffer();
        } catch {
          // a closed keep-alive connection: the next interval retries
        }
        await sleep(Math.max(0, started + INTERVAL_MS - performance.now()));
      }
    })();
    // Warm up: the first scrapes fill caches and compile the scrape path.
    await sleep(Math.max(15_000, 30 * INTERVAL_MS));
    console.log(
      `default configuration at ${String(INTERVAL_MS)} ms, /metrics fetched every interval; flags ${HEAP_FLAGS.join(' ')}`,
    );
    const windows = [
      {
        title: 'allocated',
        flags: { includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true },
      },
      { title: 'survived the young generation', flags: { includeObjectsCollectedByMajorGC: true } },
    ];
    for (const window of windows) {
      const before = await scrapesOf(telemetry);
      const load = loadavg()[0] ?? 0;
      await inspector.call('HeapProfiler.startSampling', { samplingInterval: 16384, ...window.flags });
      await sleep(WINDOW_MS);
      const { profile } = (await inspector.call('HeapProfiler.stopSampling')) as { profile: SamplingProfile };
      const scrapes = (await scrapesOf(telemetry)) - before;
      console.log(
        `\n== ${window.title}: ${String(scrapes)} scrapes in ${String(WINDOW_MS / 1000)} s, load ${load.toFixed(1)}–${(loadavg()[0] ?? 0).toFixed(1)}`,
      );
      const { ours, leaf, pairs } = bySite(profile);
      print(`${window.title}, by our nearest frame`, ours, scrapes);
      print(`${window.title}, by allocating frame`, leaf, scrapes);
      print(`${window.title}, by our nearest frame and allocating frame`, pairs, scrapes);
    }
    inspector.close();
  } finally {
    stopFetching = true;
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
