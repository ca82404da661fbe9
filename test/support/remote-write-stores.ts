import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, poll, startPeer } from './peers.ts';
import type { Peer } from './peers.ts';

/**
 * Real remote-write receivers for tests, on 127.0.0.1 on a free port, each in its own data
 * directory: Prometheus 2.42 (`--web.enable-remote-write-receiver`) and VictoriaMetrics 1.79
 * (Debian packages `prometheus` and `victoria-metrics`). `stop` and `start` again keep the
 * port and the data directory, as a restarted server would.
 */

/** One raw sample read back: time in ms, value as the store returns it. */
export interface StoredSample {
  readonly timestamp: number;
  readonly value: number;
}

/** One series read back: its labels (with `__name__`) and its samples in time order. */
export interface StoredSeries {
  readonly labels: Record<string, string>;
  readonly samples: StoredSample[];
}

/** A running (or stopped) store. */
export interface Store {
  /** The remote-write URL. */
  readonly writeUrl: string;
  /** The HTTP API base. */
  readonly api: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every series with its raw samples between `fromMs` and `toMs` (inclusive). */
  read(fromMs: number, toMs: number): Promise<StoredSeries[]>;
  output(): string;
}

async function waitReady(url: string, peer: () => Peer | undefined, name: string): Promise<void> {
  await poll(`${name} ready`, 60_000, async () => {
    const current = peer();
    if (current?.child.exitCode !== null && current?.child.exitCode !== undefined)
      throw new Error(`${name} exited: ${current.output()}`);
    const response = await fetch(url).catch(() => undefined);
    return response?.ok === true ? true : undefined;
  });
}

/** Prometheus with the remote-write receiver, no scrape jobs. */
export async function createPrometheus(dir: string): Promise<Store> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
  let peer: Peer | undefined;
  let log = '';
  return {
    writeUrl: `${api}/api/v1/write`,
    api,
    async start() {
      peer = startPeer('/usr/bin/prometheus', [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-remote-write-receiver',
        '--log.level=warn',
      ]);
      await waitReady(`${api}/-/ready`, () => peer, 'prometheus');
    },
    async stop() {
      if (peer === undefined) return;
      log += peer.output();
      await peer.stop();
      peer = undefined;
    },
    async read(fromMs, toMs) {
      // A range selector returns raw samples; stale markers are not returned.
      const window = Math.ceil((toMs - fromMs) / 1000) + 1;
      const params = new URLSearchParams({
        query: `{__name__=~".+"}[${window}s]`,
        time: String(toMs / 1000),
      });
      const response = await fetch(`${api}/api/v1/query?${params.toString()}`);
      const body = (await response.json()) as {
        status: string;
        data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
      };
      if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
      return body.data.result.map((series) => ({
        labels: series.metric,
        samples: series.values.map(([t, v]) => ({ timestamp: Math.round(t * 1000), value: Number(v) })),
      }));
    },
    output: () => log + (peer?.output() ?? ''),
  };
}

/** VictoriaMetrics single-node; samples are read back through `/api/v1/export`. */
export async function createVictoriaMetrics(dir: string): Promise<Store> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  let peer: Peer | undefined;
  let log = '';
  return {
    writeUrl: `${api}/api/v1/write`,
    api,
    async start() {
      peer = startPeer('/usr/bin/victoria-metrics', [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-storageDataPath=${join(dir, 'data')}`,
        '-retentionPeriod=100y',
        '-search.disableCache',
        '-loggerLevel=WARN',
      ]);
      await waitReady(`${api}/health`, () => peer, 'victoria-metrics');
    },
    async stop() {
      if (peer === undefined) return;
      log += peer.output();
      await peer.stop();
      peer = undefined;
    },
    async read(fromMs, toMs) {
      // Makes what was just written searchable.
      await fetch(`${api}/internal/force_flush`);
      const params = new URLSearchParams({
        'match[]': '{__name__=~".+"}',
        start: String(fromMs / 1000),
        end: String(toMs / 1000),
      });
      const response = await fetch(`${api}/api/v1/export?${params.toString()}`);
      const text = await response.text();
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const row = JSON.parse(line) as {
            metric: Record<string, string>;
            values: (number | null)[];
            timestamps: number[];
          };
          return {
            labels: row.metric,
            samples: row.timestamps.map((timestamp, i) => ({
              timestamp,
              value: row.values[i] ?? Number.NaN,
            })),
          };
        });
    },
    output: () => log + (peer?.output() ?? ''),
  };
}
