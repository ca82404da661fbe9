import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize } from '../extensions/experiments/results/summary.ts';
import { freePort, missing, poll } from './support/peers.ts';

// Three real collectors on loopback, each with the experiments extension, driven by the CLI.
const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
const TOKEN = 'experiment-token-42';
const PYTHON = '/usr/bin/python3';
const noPandas = missing(PYTHON, 'python3-pandas') || spawnSync(PYTHON, ['-c', 'import pandas']).status !== 0;
const noChromium = missing('chromium', 'chromium');

interface Collector {
  name: string;
  /** The host name its pipeline's resource processor gives its points (its name by default). */
  host?: string;
  port: number;
  dir: string;
  child?: ChildProcess;
}

let dir = '';
const collectors: Collector[] = [];
/** A port nothing listens on, listed as a proxy target (a collector that is down). */
let closedPort = 0;

function start(c: Collector): Promise<void> {
  const config = join(c.dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  procfs:',
      '    collection_interval: 1s',
      '    groups: { filesystem: { enabled: false }, disk: { enabled: false } }',
      'processors:',
      // The machine calls itself `vm`; the pipeline names it: an experiment records the
      // pipeline's output, so its rows say the same as the normal CSV.
      `  resource: { detectors: [], override: true, attributes: { host.name: ${c.host ?? c.name} } }`,
      'exporters:',
      '  csv:',
      `    path: ${join(c.dir, 'all.csv')}`,
      'extensions:',
      '  experiments:',
      `    endpoint: 127.0.0.1:${String(c.port)}`,
      '    bearer_token: ${env:INFRAMETER_TOKEN}',
      `    directory: ${join(c.dir, 'experiments')}`,
      `    proxy_targets: [${[...collectors.map((o) => o.port), closedPort].map((p) => `"127.0.0.1:${String(p)}"`).join(', ')}]`,
      'service:',
      '  extensions: [experiments]',
      '  telemetry:',
      '    resource: { host.name: vm }',
      '  pipelines:',
      '    metrics: { receivers: [procfs], processors: [resource], exporters: [csv] }',
      '',
    ].join('\n'),
  );
  c.child = spawn(process.execPath, [MAIN, 'run', '--config', config], {
    env: { ...process.env, INFRAMETER_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  c.child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  c.child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  return poll(`collector ${c.name} started`, 60_000, () =>
    Promise.resolve(output.includes('Press Ctrl-C') ? true : undefined),
  ).then(() => undefined);
}

function stopCollector(c: Collector, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = c.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill(signal);
  });
}

function cli(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, INFRAMETER_TOKEN: TOKEN, ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI without blocking this process: needed when the peer it talks to runs in this process. */
function cliAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { ...process.env, INFRAMETER_TOKEN: TOKEN, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('exit', (status) => {
      resolve({ status, stdout, stderr });
    });
  });
}

async function api(
  c: Collector,
  method: string,
  path: string,
  token = TOKEN,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${String(c.port)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

const hosts = (): string => collectors.map((c) => `127.0.0.1:${String(c.port)}`).join(',');
const rowsOf = (path: string): Record<string, string>[] =>
  parseCsv<Record<string, string>>(readFileSync(path, 'utf8'), { columns: true });
/**
 * The first column (`timestamp`) of each complete row of a CSV, none while the file does not
 * exist: read without parsing, as it is polled while the file grows.
 */
function timestampsOf(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(1, -1)
    .map((line) => line.slice(0, line.indexOf(',')));
}

/**
 * Waits until each collector has recorded `scrapes` scrapes (distinct timestamps) of experiment
 * `name`, and its normal CSV (flushed every second) holds rows at least as late as the first.
 */
async function recorded(targets: readonly Collector[], name: string, scrapes = 1): Promise<void> {
  for (const c of targets) {
    await poll(`${c.name}: ${String(scrapes)} scrapes of ${name} recorded`, 30_000, () => {
      const seen = [...new Set(timestampsOf(join(c.dir, 'experiments', `${name}.csv`)))].sort();
      const first = seen[0];
      const flushed = first !== undefined && timestampsOf(join(c.dir, 'all.csv')).some((t) => t >= first);
      return Promise.resolve(seen.length >= scrapes && flushed ? true : undefined);
    });
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-experiments-'));
  closedPort = await freePort();
  for (const name of ['host-a', 'host-b', 'host-c']) {
    const c: Collector = { name, port: await freePort(), dir: join(dir, name) };
    mkdirSync(c.dir);
    collectors.push(c);
  }
  await Promise.all(collectors.map(start));
}, 120_000);

afterAll(async () => {
  await Promise.all(collectors.map((c) => stopCollector(c)));
  rmSync(dir, { recursive: true, force: true });
});

describe('control API', () => {
  it('answers ping, and refuses what it should with the right status', async () => {
    const [a] = collectors;
    if (a === undefined) throw new Error('no collector');
    expect(await api(a, 'GET', '/ping')).toEqual({ status: 200, json: { ok: true } });
    expect((await api(a, 'GET', '/ping', 'wrong')).status).toBe(401);
    expect((await api(a, 'GET', '/experiments/nosuch')).status).toBe(404);
    const traversal = await api(a, 'POST', '/experiments/..%2Fx/start');
    expect(traversal.status).toBe(400);
    expect(JSON.stringify(traversal.json)).toContain('invalid experiment name');
    expect(
      (await api(a, 'POST', '/experiments/api-check/start', TOKEN, { receivers: ['nosuch'] })).status,
    ).toBe(400);
    expect((await api(a, 'POST', '/experiments/api-check/start', TOKEN, { interval: 'often' })).status).toBe(
      400,
    );
    expect(
      (await api(a, 'POST', '/experiments/api-check/start', TOKEN, { labels: { run: '1' } })).status,
    ).toBe(201);
    const again = await api(a, 'POST', '/experiments/api-check/start');
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.json)).toContain('already running');
    expect((await api(a, 'GET', '/experiments/api-check/results')).status).toBe(409);
    expect((await api(a, 'POST', '/experiments/api-check/stop')).status).toBe(200);
    const listed = (await api(a, 'GET', '/experiments')).json as {
      experiments: { name: string; state: string; size: number }[];
    };
    expect(listed.experiments.find((e) => e.name === 'api-check')?.state).toBe('stopped');
    expect(listed.experiments.find((e) => e.name === 'api-check')?.size).toBeGreaterThan(0);
    // gzip when asked, identical once decoded.
    const plain = await (
      await fetch(`http://127.0.0.1:${String(a.port)}/experiments/api-check/results`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).text();
    const gz = await fetch(`http://127.0.0.1:${String(a.port)}/experiments/api-check/results`, {
      headers: { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' },
    });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(await gz.text()).toBe(plain);
    expect(plain.split('\n')[0]).toBe(
      'timestamp,host,collector,metric,unit,type,value,attributes,resource,start_timestamp',
    );
    // Stopping again answers the record as it is.
    expect((await api(a, 'POST', '/experiments/api-check/stop')).status).toBe(200);
    expect((await api(a, 'DELETE', '/experiments/api-check')).status).toBe(200);
    // A body over 64 KiB, a proxy target that is not host:port, one not listed in
    // proxy_targets (refused, nothing sent), and a listed one that does not answer.
    const big = await api(a, 'POST', '/experiments/too-big/start', TOKEN, {
      labels: { x: 'y'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect((await api(a, 'GET', '/proxy/not-a-target/ping')).status).toBe(400);
    const unlisted = await api(a, 'GET', '/proxy/127.0.0.2:9/ping');
    expect(unlisted.status).toBe(403);
    expect(JSON.stringify(unlisted.json)).toContain('not one of this collector');
    // Malformed client input is a 4xx, never a 500.
    expect((await api(a, 'GET', '/experiments/%E0%A4%A')).status).toBe(400);
    expect((await api(a, 'GET', '/proxy/%zz/ping')).status).toBe(400);
    const forever = await api(a, 'POST', '/experiments/forever/start', TOKEN, { interval: '99999999999h' });
    expect(forever.status).toBe(400);
    expect(JSON.stringify(forever.json)).toContain('interval: must be at most 2147483647 ms');
    const closed = closedPort;
    const unreachable = await api(a, 'GET', `/proxy/127.0.0.1:${String(closed)}/ping`);
    expect(unreachable.status).toBe(502);
    expect(JSON.stringify(unreachable.json)).toContain(
      `proxy to 127.0.0.1:${String(closed)}: connect ECONNREFUSED`,
    );
    expect((await api(a, 'GET', '/experiments/api-check')).status).toBe(404);
  });
});

// Each test here runs the CLI (a Node process each) half a dozen times or more, one after the
// other, and may start a collector: under a load of five or six per core a Node start takes
// seconds, and such a test takes most of a minute. It waits for events, not for time; the
// generous bound is for a busy machine.
// Each test chains half a dozen CLI processes: 50-90 s on two busy cores, up to 193 s with a
// second run of the suite beside it.
describe('inframeter experiment on three collectors', { timeout: 300_000 }, () => {
  it('start, work, stop: one merged CSV with every host and collector, each row with the experiment name and labels', async () => {
    const started = cli([
      'experiment',
      'start',
      'exp1',
      '--hosts',
      hosts(),
      '--label',
      'run=7',
      '--interval',
      '100ms',
    ]);
    expect(started.stdout).toContain('started exp1: 3 of 3 hosts');
    expect(started.status).toBe(0);
    await recorded(collectors, 'exp1', 9);
    const out = join(dir, 'exp1.csv');
    const stopped = cli(['experiment', 'stop', 'exp1', '--hosts', hosts(), '--out', out]);
    expect(stopped.stdout).toContain('3 of 3 hosts');
    expect(stopped.status).toBe(0);
    expect(stopped.stderr).not.toContain('{host}');
    expect(stopped.stderr).toMatch(/^fetched 127\.0\.0\.1:\d+: [\d,]+ bytes \(1\/3\)$/m);
    const rows = rowsOf(out);
    // The pipeline's output (after its resource processor), never the raw `vm`.
    expect(new Set(rows.map((r) => r.host))).toEqual(new Set(['host-a', 'host-b', 'host-c']));
    expect(new Set(rows.map((r) => r.collector)).size).toBe(3);
    for (const r of rows) {
      expect(r.collector).toMatch(/^[0-9a-f]{16}$/);
      const attributes = JSON.parse(r.attributes ?? '{}') as Record<string, unknown>;
      expect(attributes['experiment.name']).toBe('exp1');
      expect(attributes.run).toBe('7');
    }
    // The 100 ms interval override: more scrapes than the 1 s configuration would give in the
    // time they span (less 100 ms: a scrape's own length moves its timestamp). Ten times apart,
    // so that a loaded machine, where a scrape may take a few hundred ms, cannot blur them.
    const scrapes = [...new Set(rows.filter((r) => r.host === 'host-a').map((r) => r.timestamp ?? ''))]
      .map((t) => Date.parse(t))
      .sort((x, y) => x - y);
    expect(scrapes.length).toBeGreaterThanOrEqual(9);
    const span = (scrapes.at(-1) ?? 0) - (scrapes[0] ?? 0);
    expect(span).toBeLessThan((scrapes.length - 1) * 1000 - 100);
    // The normal exporters get the points unchanged: no experiment label ever starts or
    // ends a series there (in Prometheus, no stale twin of each series).
    const all = rowsOf(join(collectors[0]?.dir ?? '', 'all.csv'));
    expect(all.length).toBeGreaterThan(0);
    expect(all.some((r) => r.attributes?.includes('experiment.name'))).toBe(false);
    expect(all.some((r) => r.attributes?.includes('"run"'))).toBe(false);
    // The experiment's rows are the normal CSV's rows, with the name and labels added.
    const key = (r: Record<string, string>): string =>
      `${r.timestamp ?? ''} ${r.metric ?? ''} ${String(Number(r.value))} ${r.attributes ?? ''}`;
    const normal = new Set(all.map(key));
    // The normal CSV is flushed every second: compare up to what it holds.
    const written = all.reduce((m, r) => ((r.timestamp ?? '') > m ? (r.timestamp ?? '') : m), '');
    const mine = rows.filter((r) => r.host === 'host-a' && (r.timestamp ?? '') <= written);
    expect(mine.length).toBeGreaterThan(0);
    const stripped = mine.map((r) => {
      const a = JSON.parse(r.attributes ?? '{}') as Record<string, unknown>;
      delete a['experiment.name'];
      delete a.run;
      return key({ ...r, attributes: JSON.stringify(a) });
    });
    expect(stripped.filter((k) => !normal.has(k))).toEqual([]);
  });

  it('two collectors with the same host name: two distinguishable, correct series in the merged results', async () => {
    const [a] = collectors;
    if (a === undefined) throw new Error('no collector');
    const twin: Collector = { name: 'twin', host: 'host-a', port: await freePort(), dir: join(dir, 'twin') };
    mkdirSync(twin.dir);
    await start(twin);
    try {
      const pair = `127.0.0.1:${String(a.port)},127.0.0.1:${String(twin.port)}`;
      expect(cli(['experiment', 'start', 'twins', '--hosts', pair, '--interval', '100ms']).status).toBe(0);
      await recorded([a, twin], 'twins');
      const out = join(dir, 'twins.parquet');
      const stopped = cli(['experiment', 'stop', 'twins', '--hosts', pair, '--out', out]);
      expect(stopped.stdout).toContain('2 of 2 hosts');
      const csv = join(dir, 'twins.csv');
      expect(cli(['results', 'convert', out, csv]).status).toBe(0);
      const rows = rowsOf(csv);
      expect(new Set(rows.map((r) => r.host))).toEqual(new Set(['host-a']));
      const ids = [...new Set(rows.map((r) => r.collector ?? ''))];
      expect(ids).toHaveLength(2);
      // Each collector's series is exactly what that collector exported: its own normal CSV.
      for (const c of [a, twin]) {
        const id = (await api(c, 'GET', '/experiments/twins')).json as { collector: string };
        const all = rowsOf(join(c.dir, 'all.csv')).filter((r) => r.metric === 'system.memory.usage');
        const normal = new Set(
          all.map((r) => `${r.timestamp ?? ''} ${String(Number(r.value))} ${r.attributes ?? ''}`),
        );
        const written = all.reduce((m, r) => ((r.timestamp ?? '') > m ? (r.timestamp ?? '') : m), '');
        const memory = rows.filter(
          (r) =>
            r.collector === id.collector &&
            r.metric === 'system.memory.usage' &&
            (r.timestamp ?? '') <= written,
        );
        expect(memory.length).toBeGreaterThan(0);
        for (const r of memory) {
          const attributes = JSON.parse(r.attributes ?? '{}') as Record<string, unknown>;
          delete attributes['experiment.name'];
          expect(
            normal.has(`${r.timestamp ?? ''} ${String(Number(r.value))} ${JSON.stringify(attributes)}`),
          ).toBe(true);
        }
      }
      const summary = cli(['results', 'summary', out, '--metric', 'system.memory.usage', '--json']);
      expect(summary.status).toBe(0);
      const series = JSON.parse(summary.stdout) as { host: string; collector: string }[];
      expect(new Set(series.map((s) => s.collector))).toEqual(new Set(ids));
    } finally {
      await stopCollector(twin);
    }
  }, 180_000);

  it.skipIf(noPandas)(
    "the README's pandas example reads the merged CSV into one DataFrame per metric, with our means",
    async () => {
      const out = join(dir, 'exp1.csv');
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const example = /<!-- pandas example -->\s*```python\n([\s\S]*?)```/.exec(readme)?.[1];
      if (example === undefined) throw new Error('no pandas example in README.md');
      const script = [
        example.replace("'run-42.csv'", JSON.stringify(out)),
        'import json',
        'memory = frames["system.memory.usage"]',
        'print(json.dumps({',
        '  "metrics": sorted(frames),',
        '  "columns": [list(c) for c in memory.columns],',
        '  "means": {h: float(memory.xs(h, axis=1, level="host").stack().mean()) for h in memory.columns.get_level_values("host").unique()},',
        '}))',
      ].join('\n');
      const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const theirs = JSON.parse(r.stdout) as {
        metrics: string[];
        columns: string[][];
        means: Record<string, number>;
      };
      const ours = await summarize(out, { metrics: ['system.memory.usage'] });
      expect(theirs.metrics).toContain('system.memory.usage');
      expect(theirs.metrics).toContain('system.cpu.time');
      // A column per host, collector and attribute set.
      expect(theirs.columns).toHaveLength(ours.length);
      for (const host of ['host-a', 'host-b', 'host-c']) {
        const rows = ours.filter((s) => s.host === host);
        const mean =
          rows.reduce((sum, s) => sum + s.mean * s.count, 0) / rows.reduce((n, s) => n + s.count, 0);
        expect(Math.abs(mean - (theirs.means[host] ?? Number.NaN)) / mean).toBeLessThan(1e-9);
      }
    },
  );

  it('reaches the collectors through a proxy collector', async () => {
    const [proxy] = collectors;
    if (proxy === undefined) throw new Error('no collector');
    const others = collectors
      .slice(1)
      .map((c) => `127.0.0.1:${String(c.port)}`)
      .join(',');
    const via = ['--hosts', others, '--proxy', `127.0.0.1:${String(proxy.port)}`];
    expect(cli(['experiment', 'start', 'proxied', ...via]).status).toBe(0);
    await recorded(collectors.slice(1), 'proxied');
    const out = join(dir, 'proxied.csv');
    const stopped = cli(['experiment', 'stop', 'proxied', ...via, '--out', out]);
    expect(stopped.stdout).toContain('2 of 2 hosts');
    expect(new Set(rowsOf(out).map((r) => r.host))).toEqual(new Set(['host-b', 'host-c']));
  });

  it('a collector killed mid-way: the others are merged, the failed host is named, a retry fetches only it', async () => {
    expect(cli(['experiment', 'start', 'exp2', '--hosts', hosts()]).status).toBe(0);
    await recorded(collectors, 'exp2');
    const victim = collectors[2];
    if (victim === undefined) throw new Error('no collector');
    await stopCollector(victim, 'SIGKILL');
    const out = join(dir, 'exp2.csv');
    const stopped = cli(['experiment', 'stop', 'exp2', '--hosts', hosts(), '--out', out]);
    expect(stopped.status).toBe(1);
    expect(stopped.stdout).toMatch(
      new RegExp(`FAILED 127\\.0\\.0\\.1:${String(victim.port)}: stop: .*ECONNREFUSED`),
    );
    expect(new Set(rowsOf(out).map((r) => r.host))).toEqual(new Set(['host-a', 'host-b']));
    const parts = join(`${out}.parts`);
    const before = statSync(join(parts, `127.0.0.1_${String(collectors[0]?.port)}.csv`)).mtimeMs;
    expect(stopped.stdout).toContain('run the same command again once the failed host answers');
    // The collector comes back: what it recorded before the kill is kept (interrupted), and
    // running `stop` again recovers it, fetching only its part.
    await start(victim);
    const retried = cli(['experiment', 'stop', 'exp2', '--hosts', hosts(), '--out', out]);
    expect(retried.stdout).toContain('3 of 3 hosts');
    expect(retried.status).toBe(0);
    // And once more: stopping is idempotent, nothing is fetched again.
    expect(cli(['experiment', 'stop', 'exp2', '--hosts', hosts(), '--out', out]).status).toBe(0);
    expect(statSync(join(parts, `127.0.0.1_${String(collectors[0]?.port)}.csv`)).mtimeMs).toBe(before);
    expect(new Set(rowsOf(out).map((r) => r.host))).toEqual(new Set(['host-a', 'host-b', 'host-c']));
    const state = (await api(victim, 'GET', '/experiments/exp2')).json as { state: string };
    expect(state.state).toBe('interrupted');
    // Deleted everywhere; a second delete finds nothing and is fine too.
    const deleted = cli(['experiment', 'delete', 'exp2', '--hosts', hosts()]);
    expect(deleted.stdout).toContain('deleted exp2: 3 of 3 hosts');
    expect((await api(victim, 'GET', '/experiments/exp2')).status).toBe(404);
    const again = cli(['experiment', 'delete', 'exp2', '--hosts', hosts()]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('(had no such experiment)');
  });

  it('a host that answers garbage is named, the others are merged', async () => {
    const garbage = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>not inframeter</html>');
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const port = (garbage.address() as { port: number }).port;
    try {
      const list = `${hosts()},127.0.0.1:${String(port)}`;
      const started = await cliAsync(['experiment', 'start', 'exp3', '--hosts', list]);
      expect(started.status).toBe(1);
      expect(started.stdout).toContain(`FAILED 127.0.0.1:${String(port)}: not a JSON answer (HTTP 200)`);
      expect(started.stdout).toContain('started exp3: 3 of 4 hosts');
      await recorded(collectors, 'exp3');
      const out = join(dir, 'exp3.csv');
      const stopped = await cliAsync(['experiment', 'stop', 'exp3', '--hosts', list, '--out', out]);
      expect(stopped.status).toBe(1);
      expect(new Set(rowsOf(out).map((r) => r.host))).toEqual(new Set(['host-a', 'host-b', 'host-c']));
    } finally {
      garbage.close();
    }
  });

  describe('through the Kubernetes API server pod proxy (recorded API)', () => {
    let apiServer: Server | undefined;
    let kubeconfig = '';
    const seen: string[] = [];

    beforeAll(async () => {
      // PodList as the API server returns it for ?labelSelector=app=inframeter; the pod proxy
      // forwards to the collector whose port the pod's name carries.
      const pods = collectors.map((c, i) => ({
        metadata: {
          name: `inframeter-agent-${String(i)}`,
          namespace: 'monitoring',
          uid: `6b2c6f1e-0000-4000-8000-00000000000${String(i)}`,
          labels: { app: 'inframeter' },
          resourceVersion: String(1000 + i),
        },
        spec: {
          nodeName: c.name,
          containers: [{ name: 'agent', image: 'ghcr.io/inframeter/inframeter:0.1.0' }],
        },
        status: { phase: 'Running', podIP: '127.0.0.1' },
      }));
      apiServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://api');
        seen.push(`${req.method ?? ''} ${url.pathname}${url.search}`);
        if (req.headers.authorization !== 'Bearer cluster-token') {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              reason: 'Unauthorized',
              code: 401,
            }),
          );
          return;
        }
        if (url.pathname === '/api/v1/namespaces/monitoring/pods') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              kind: 'PodList',
              apiVersion: 'v1',
              metadata: { resourceVersion: '2000' },
              items: pods,
            }),
          );
          return;
        }
        const proxy =
          /^\/api\/v1\/namespaces\/monitoring\/pods\/inframeter-agent-(\d+)(?::|%3A)9470\/proxy(\/.*)$/.exec(
            url.pathname,
          );
        const target = collectors[Number(proxy?.[1])];
        if (proxy === null || target === undefined) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              reason: 'NotFound',
              code: 404,
            }),
          );
          return;
        }
        // Like the API server: the Authorization header is its own, not forwarded.
        const headers = { ...req.headers };
        delete headers.authorization;
        const upstream = httpRequest(
          {
            host: '127.0.0.1',
            port: target.port,
            path: `${proxy[2] ?? '/'}${url.search}`,
            method: req.method,
            headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.pipe(upstream);
      });
      await new Promise<void>((r) => apiServer?.listen(0, '127.0.0.1', r));
      const port = (apiServer.address() as { port: number }).port;
      kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{ name: test, cluster: { server: "http://127.0.0.1:' +
            String(port) +
            '", insecure-skip-tls-verify: true } }]',
          'users: [{ name: test, user: { token: cluster-token } }]',
          'contexts: [{ name: test, context: { cluster: test, user: test } }]',
          'current-context: test',
          '',
        ].join('\n'),
      );
    });
    afterAll(() => {
      apiServer?.close();
    });

    it('lists the pods by selector and drives each collector through pods/proxy', async () => {
      const k8s = ['--k8s-selector', 'app=inframeter', '-n', 'monitoring'];
      const started = await cliAsync(['experiment', 'start', 'k8s1', ...k8s], { KUBECONFIG: kubeconfig });
      expect(started.stderr).toBe('');
      expect(started.stdout).toContain('started k8s1: 3 of 3 hosts');
      await recorded(collectors, 'k8s1');
      const out = join(dir, 'k8s1.csv');
      const stopped = await cliAsync(['experiment', 'stop', 'k8s1', ...k8s, '--out', out], {
        KUBECONFIG: kubeconfig,
      });
      expect(stopped.stdout).toContain('3 of 3 hosts');
      expect(new Set(rowsOf(out).map((r) => r.host))).toEqual(new Set(['host-a', 'host-b', 'host-c']));
      expect(seen).toContain('GET /api/v1/namespaces/monitoring/pods?labelSelector=app%3Dinframeter');
      expect(
        seen.some((s) =>
          /^POST \/api\/v1\/namespaces\/monitoring\/pods\/inframeter-agent-0(:|%3A)9470\/proxy\/experiments\/k8s1\/start$/.test(
            s,
          ),
        ),
      ).toBe(true);
    });
  });
});

// The plots start the CLI and Chromium, each up to 60 s: 65-70 s seen on a loaded machine.
describe('inframeter results', { timeout: 180_000 }, () => {
  it('summary: a table per metric and host, counters with rates', () => {
    const r = cli([
      'results',
      'summary',
      join(dir, 'exp1.csv'),
      '--metric',
      'system.cpu.time',
      '--host',
      'host-a',
      '--attr',
      'cpu.mode=user',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^system\.cpu\.time \(s, counter\)$/m);
    expect(r.stdout).toMatch(/^host\s+collector\s+attributes\s+n\s+mean\s+min\s+max\s+rate\/s$/m);
    expect(r.stdout).toContain('host-a');
    expect(r.stdout).not.toContain('host-b');
  });

  it('a truncated file, a short row and a foreign file: clear messages naming the file and line', () => {
    const source = readFileSync(join(dir, 'exp1.csv'), 'utf8');
    const truncated = join(dir, 'truncated.csv');
    writeFileSync(truncated, source.slice(0, source.length - 20));
    const t = cli(['results', 'summary', truncated]);
    expect(t.status).toBe(1);
    expect(t.stderr).toContain(`${truncated}: the last row has no line end (truncated file)`);
    const short = join(dir, 'short.csv');
    writeFileSync(short, `${source.split('\n').slice(0, 3).join('\n')}\n2026-11-22T10:00:00.000Z,a,b\n`);
    const r = cli(['results', 'summary', short]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${short}:4:`);
    const foreign = join(dir, 'foreign.csv');
    writeFileSync(foreign, 'time,value\n1,2\n');
    const f = cli(['results', 'summary', foreign]);
    expect(f.status).toBe(1);
    expect(f.stderr).toContain(`${foreign}:1: not an inframeter CSV header`);
  });

  it('an unknown metric or an empty selection is an error listing what exists', () => {
    const file = join(dir, 'exp1.csv');
    const r = cli(['results', 'summary', file, '--metric', 'system.cpu.tim']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no metric system\.cpu\.tim; the metrics there: .*system\.cpu\.time/);
    const p = cli(['results', 'plot', file, '--metric', 'system.cpu.time', '--host', 'nobody']);
    expect(p.status).toBe(1);
    expect(p.stderr).toContain('no host nobody; the hosts there: host-a, host-b, host-c');
  });

  it('plot: one chart per metric, a line per host, in the format the name asks for', () => {
    const out = join(dir, 'cpu.svg');
    const plot = (target: string): ReturnType<typeof cli> =>
      cli([
        'results',
        'plot',
        join(dir, 'exp1.csv'),
        '--metric',
        'system.cpu.time',
        '--metric',
        'system.memory.usage',
        '--attr',
        'cpu.mode=user',
        '--out',
        target,
      ]);
    // cpu.mode is not an attribute of memory: an empty selection, said so.
    expect(plot(out).stderr).toContain('no rows with cpu.mode=user');
    const r = cli([
      'results',
      'plot',
      join(dir, 'exp1.csv'),
      '--metric',
      'system.cpu.time',
      '--metric',
      'system.memory.usage',
      '--out',
      out,
    ]);
    expect(r.stdout).toContain('system.cpu.time: 3 lines; system.memory.usage: 3 lines');
    const svg = readFileSync(out, 'utf8');
    expect(svg.match(/<path d="M/g)?.length).toBe(6);
    expect(svg).toContain('>s/s</text>');
    expect(svg).toContain('>By</text>');
    for (const h of ['host-a', 'host-b', 'host-c']) expect(svg).toContain(`>${h}<title>`);
    const jpg = cli([
      'results',
      'plot',
      join(dir, 'exp1.csv'),
      '--metric',
      'system.cpu.time',
      '--out',
      join(dir, 'cpu.jpg'),
    ]);
    expect(jpg.status).toBe(1);
    expect(jpg.stderr).toContain('plots are written as .svg, .png, .pdf; not .jpg');
    expect(existsSync(join(dir, 'cpu.jpg'))).toBe(false);
  });

  it.skipIf(noChromium)('plot: PNG and PDF through Chromium, really those formats', () => {
    for (const [name, magic] of [
      ['cpu.png', '\x89PNG'],
      ['cpu.pdf', '%PDF'],
    ] as const) {
      const target = join(dir, name);
      const r = cli([
        'results',
        'plot',
        join(dir, 'exp1.csv'),
        '--metric',
        'system.cpu.time',
        '--out',
        target,
      ]);
      expect(r.stderr).toBe('');
      expect(readFileSync(target).subarray(0, magic.length).toString('latin1')).toBe(magic);
    }
  });

  it.skipIf(noChromium)('plot: 150,000 points of one series draw, downsampled, with their spike', () => {
    const big = join(dir, 'big.csv');
    const start = Date.parse('2026-11-22T10:00:00.000Z');
    const lines = ['timestamp,host,collector,metric,unit,type,value,attributes,resource,start_timestamp'];
    for (let i = 0; i < 150_000; i++) {
      const value = i === 99_999 ? 5000 : 100 + 20 * Math.sin(i / 2000);
      lines.push(
        `${new Date(start + i * 100).toISOString()},node-1,00000000000000c1,hw.host.power,W,gauge,${String(value)},{},{},`,
      );
    }
    writeFileSync(big, `${lines.join('\n')}\n`);
    const svgOut = join(dir, 'big.svg');
    const r = cli(['results', 'plot', big, '--metric', 'hw.host.power', '--out', svgOut]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('hw.host.power: 1 line');
    const svg = readFileSync(svgOut, 'utf8');
    const path = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
    const points = path.split(/[ML]/).filter((p) => p !== '');
    expect(points.length).toBeGreaterThan(100);
    expect(points.length).toBeLessThanOrEqual(700);
    // The spike is drawn: its point sits at the top of the plot area (y = 40).
    expect(points.some((p) => p.endsWith(',40.0'))).toBe(true);
    expect(svg).toContain('time since start (h)');
    const png = join(dir, 'big.png');
    expect(cli(['results', 'plot', big, '--metric', 'hw.host.power', '--out', png]).status).toBe(0);
    expect(statSync(png).size).toBeGreaterThan(5000);
  });

  it.skipIf(noChromium)(
    'report: one HTML page that headless Chromium renders with its charts and no console errors',
    () => {
      const out = join(dir, 'report.html');
      const r = cli(['results', 'report', join(dir, 'exp1.csv'), '--out', out]);
      expect(r.stdout).toMatch(/: 3 charts$/m);
      const html = readFileSync(out, 'utf8');
      expect(html).not.toMatch(/<script|<link|src="http/);
      const dom = spawnSync(
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--enable-logging=stderr',
          '--v=0',
          '--dump-dom',
          `file://${out}`,
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(dom.status).toBe(0);
      expect(dom.stderr).not.toMatch(/CONSOLE.*(error|Uncaught)/i);
      // CPU busy, memory, network: each a chart with one line per host.
      expect((dom.stdout.match(/<svg /g) ?? []).length).toBe(3);
      expect((dom.stdout.match(/<path d="M/g) ?? []).length).toBe(9);
      const png = join(dir, 'report.png');
      const shot = spawnSync(
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          `--screenshot=${png}`,
          '--window-size=1000,1400',
          `file://${out}`,
        ],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(shot.status).toBe(0);
      expect(existsSync(png)).toBe(true);
      // A page of charts compresses far worse than a blank page of the same size.
      const blank = join(dir, 'blank.html');
      writeFileSync(blank, '<!DOCTYPE html><html><body></body></html>');
      const blankPng = join(dir, 'blank.png');
      spawnSync(
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          `--screenshot=${blankPng}`,
          '--window-size=1000,1400',
          `file://${blank}`,
        ],
        { timeout: 60_000 },
      );
      expect(statSync(png).size).toBeGreaterThan(statSync(blankPng).size * 5);
    },
  );
});
