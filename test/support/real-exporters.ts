import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Peer } from './peers.ts';
import { freePort, missing, poll, startPeer } from './peers.ts';

/** A real Prometheus exporter from Debian, started on loopback on a free port. */
export interface RealExporter {
  readonly name: string;
  /** The URLs of its expositions. */
  readonly urls: readonly string[];
}

interface Recipe {
  readonly name: string;
  readonly binary: string;
  readonly debianPackage: string;
  readonly args: (port: number, dir: string) => string[];
  /** The command to run when it is not `binary` (something `args` built). */
  readonly command?: (dir: string) => string;
  readonly paths: readonly string[];
}

const RECIPES: readonly Recipe[] = [
  {
    // The Go client library with OpenMetrics on: exemplars, created timestamps, a summary.
    name: 'client_golang',
    binary: 'go',
    debianPackage: 'golang-go golang-github-prometheus-client-golang-dev',
    args: (port, dir) => {
      const binary = join(dir, 'om-exporter');
      const build = spawnSync(
        'go',
        ['build', '-o', binary, join(import.meta.dirname, 'openmetrics-exporter', 'main.go')],
        {
          encoding: 'utf8',
          env: {
            ...process.env,
            GOPATH: '/usr/share/gocode',
            GO111MODULE: 'off',
            GOCACHE: join(dir, 'gocache'),
          },
        },
      );
      if (build.status !== 0) throw new Error(`building the OpenMetrics exporter: ${build.stderr}`);
      return ['-listen', `127.0.0.1:${String(port)}`];
    },
    command: (dir) => join(dir, 'om-exporter'),
    paths: ['/metrics'],
  },
  {
    name: 'node_exporter',
    binary: 'prometheus-node-exporter',
    debianPackage: 'prometheus-node-exporter',
    args: (port) => [`--web.listen-address=127.0.0.1:${String(port)}`, '--no-collector.systemd'],
    paths: ['/metrics'],
  },
  {
    name: 'prometheus',
    binary: 'prometheus',
    debianPackage: 'prometheus',
    args: (port, dir) => {
      // Prometheus scrapes itself, so its /metrics has every kind of family it keeps.
      writeFileSync(
        join(dir, 'prometheus.yml'),
        `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: self\n    static_configs: [{ targets: ['127.0.0.1:${String(port)}'] }]\n`,
      );
      return [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${String(port)}`,
      ];
    },
    paths: ['/metrics'],
  },
  {
    name: 'snmp_exporter',
    binary: 'prometheus-snmp-exporter',
    debianPackage: 'prometheus-snmp-exporter',
    args: (port) => [
      '--config.file=/etc/prometheus/snmp.yml',
      `--web.listen-address=127.0.0.1:${String(port)}`,
    ],
    paths: ['/metrics'],
  },
  {
    name: 'ipmi_exporter',
    binary: 'prometheus-ipmi-exporter',
    debianPackage: 'prometheus-ipmi-exporter',
    args: (port) => [`--web.listen-address=127.0.0.1:${String(port)}`],
    // /metrics also collects from the local BMC: without one it reports ipmi_up 0.
    paths: ['/metrics'],
  },
  {
    name: 'libvirt_exporter',
    binary: 'prometheus-libvirt-exporter',
    debianPackage: 'prometheus-libvirt-exporter',
    // libvirt's test driver: a domain with its counters, no daemon needed.
    args: (port) => [`--web.listen-address=127.0.0.1:${String(port)}`, '--libvirt.uri=test:///default'],
    paths: ['/metrics'],
  },
];

/** The exporters whose package is installed (in CI every one must be: `missing` throws there). */
export function availableRecipes(names?: readonly string[]): Recipe[] {
  return RECIPES.filter(
    (r) => (names === undefined || names.includes(r.name)) && !missing(r.binary, r.debianPackage),
  );
}

/** Starts the given exporters and waits until each answers; `stop` ends them all. */
export async function startRealExporters(
  recipes: readonly Recipe[],
): Promise<{ exporters: RealExporter[]; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-exporters-'));
  const peers: Peer[] = [];
  const exporters: RealExporter[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(peers.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const recipe of recipes) {
      const port = await freePort();
      const args = recipe.args(port, dir);
      const peer = startPeer(recipe.command?.(dir) ?? recipe.binary, args);
      peers.push(peer);
      const base = `http://127.0.0.1:${String(port)}`;
      await poll(recipe.name, 30_000, async () => {
        if (peer.child.exitCode !== null) throw new Error(`${recipe.name} exited:\n${peer.output()}`);
        try {
          const response = await fetch(`${base}${recipe.paths[0] ?? '/metrics'}`);
          await response.text();
          return response.ok ? true : undefined;
        } catch {
          return undefined;
        }
      });
      exporters.push({ name: recipe.name, urls: recipe.paths.map((p) => `${base}${p}`) });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { exporters, stop };
}
