import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Peer } from './peers.ts';
import { freePort, poll, startPeer } from './peers.ts';

/**
 * Real InfluxDB 1.6.7 (Debian `influxdb`) and VictoriaMetrics (Debian `victoria-metrics`)
 * servers on 127.0.0.1, each in its own directory, for the influxdb exporter's tests.
 */

/** An influxd that can be stopped and started again on the same port and data. */
export interface Influxd {
  readonly url: string;
  /** POST /query as the admin user (when auth is on); resolves the JSON answer. */
  query(q: string, db?: string): Promise<InfluxQueryResult>;
  stop(): Promise<void>;
  start(): Promise<void>;
  output(): string;
}

/** The answer of `/query` (one statement). */
export interface InfluxQueryResult {
  results: {
    series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[];
    error?: string;
  }[];
}

export const INFLUX_ADMIN = { user: 'admin', password: 'admin-secret' };

async function waitHttp(url: string, peer: Peer): Promise<void> {
  await poll(`server at ${url} ready`, 60_000, async () => {
    if (peer.child.exitCode !== null) throw new Error(`exited: ${peer.output()}`);
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.status < 500 ? true : undefined;
  });
}

/**
 * Starts influxd with its meta, data and WAL under `dir`, HTTP on a free port, and (with
 * `auth`) authentication on and an admin user {@link INFLUX_ADMIN}.
 */
export async function startInfluxd(dir: string, options: { auth?: boolean } = {}): Promise<Influxd> {
  mkdirSync(dir, { recursive: true });
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const config = join(dir, 'influxdb.conf');
  writeFileSync(
    config,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${join(dir, 'meta')}"`,
      '[data]',
      `  dir = "${join(dir, 'data')}"`,
      `  wal-dir = "${join(dir, 'wal')}"`,
      '  query-log-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${httpPort}"`,
      `  auth-enabled = ${options.auth === true ? 'true' : 'false'}`,
      '  log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[subscriber]',
      '  enabled = false',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let peer: Peer | undefined;
  const auth =
    options.auth === true
      ? {
          authorization: `Basic ${Buffer.from(`${INFLUX_ADMIN.user}:${INFLUX_ADMIN.password}`).toString('base64')}`,
        }
      : {};
  const query = async (q: string, db?: string): Promise<InfluxQueryResult> => {
    const body = new URLSearchParams({ q, ...(db === undefined ? {} : { db }) });
    const response = await fetch(`${url}/query`, {
      method: 'POST',
      headers: auth,
      body,
      signal: AbortSignal.timeout(20_000),
    });
    const json = (await response.json()) as InfluxQueryResult & { error?: string };
    if (!response.ok || json.error !== undefined)
      throw new Error(`${q}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const server: Influxd = {
    url,
    query,
    output: () => peer?.output() ?? '',
    async start() {
      peer = startPeer('influxd', ['-config', config]);
      await waitHttp(`${url}/ping`, peer);
    },
    async stop() {
      await peer?.stop();
    },
  };
  await server.start();
  if (options.auth === true) {
    // With no user yet, InfluxDB 1.x lets anyone create the first admin. Its answer can be a
    // 200 that carries an error, so the request is repeated until the admin is authorized.
    const create = new URLSearchParams({
      q: `CREATE USER ${INFLUX_ADMIN.user} WITH PASSWORD '${INFLUX_ADMIN.password}' WITH ALL PRIVILEGES`,
    });
    await poll('the admin user of influxd', 60_000, async () => {
      await fetch(`${url}/query`, { method: 'POST', body: create, signal: AbortSignal.timeout(20_000) });
      await query('SHOW USERS');
      return true;
    });
  }
  return server;
}

/** A VictoriaMetrics single-node server. */
export interface VictoriaMetrics {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(dir: string): Promise<VictoriaMetrics> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peer = startPeer('victoria-metrics', [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${join(dir, 'data')}`,
    '-loggerLevel=ERROR',
    // Points are readable at once, not after the default 30 s search latency.
    '-search.latencyOffset=0s',
    // Test timestamps are fixed dates: keep them past the default one-month retention.
    '-retentionPeriod=100y',
  ]);
  await waitHttp(`${url}/health`, peer);
  return { url, stop: () => peer.stop() };
}
