/**
 * The prometheus receiver's exposition parser on real expositions, beside a floor.
 *
 *   node bench/prometheus-parse.bench.ts [rounds]      (default 2000)
 *
 * Starts Debian's node_exporter and Prometheus on loopback, takes one exposition of each,
 * then parses each `rounds` times with `parseExposition` (every rule of the formats checked)
 * and with the floor: a bare line splitter with one regular expression per sample line, no
 * metadata, escapes or validation (test/support/peers.ts `parseSamples`). Prints the time per
 * exposition and per sample, the ratio to the floor, and the load average beside each figure.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import { parseSamples } from '../test/support/peers.ts';

const ROUNDS = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-parse-bench-'));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
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

async function fetchWhenUp(url: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return await response.text();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}: no answer within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function measure(what: string, text: string): void {
  const samples = parseExposition(text, what).reduce((n, f) => n + f.samples.length, 0);
  const time = (parse: () => unknown): number => {
    for (let i = 0; i < 100; i++) parse();
    const t0 = performance.now();
    for (let i = 0; i < ROUNDS; i++) parse();
    return (performance.now() - t0) / ROUNDS;
  };
  const ours = time(() => parseExposition(text, what));
  const floor = time(() => parseSamples(text));
  console.log(
    `${what}: ${String(samples)} samples; parseExposition ${ours.toFixed(3)} ms (${((ours * 1e6) / samples).toFixed(0)} ns/sample), floor ${floor.toFixed(3)} ms, ratio ${(ours / floor).toFixed(2)}x; load ${load()}`,
  );
}

try {
  const nodePort = await freePort();
  children.push(
    spawn(
      'prometheus-node-exporter',
      [`--web.listen-address=127.0.0.1:${String(nodePort)}`, '--no-collector.systemd'],
      {
        stdio: 'ignore',
      },
    ),
  );
  const promPort = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global: { scrape_interval: 1s }\n');
  children.push(
    spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${String(promPort)}`,
      ],
      { stdio: 'ignore' },
    ),
  );
  measure('node_exporter', await fetchWhenUp(`http://127.0.0.1:${String(nodePort)}/metrics`));
  measure('prometheus', await fetchWhenUp(`http://127.0.0.1:${String(promPort)}/metrics`));
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
