import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, poll } from './support/peers.ts';

// Every collector config under examples/ (Helm values under examples/helm/ are checked by
// test/helm.test.ts) passes `inframeter validate`; the single-host one runs and writes CSV.
const ROOT = join(import.meta.dirname, '..');
const EXAMPLES = join(ROOT, 'examples');
const MAIN = join(ROOT, 'service', 'main.ts');

function configs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helm' || name === 'metrics.d' ? [] : configs(path);
    return /\.ya?ml$/.test(name) && !name.startsWith('kwollect-') && !name.endsWith('-mapping.yaml')
      ? [path]
      : [];
  });
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-examples-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('examples', () => {
  it.each(configs(EXAMPLES).map((p) => [relative(ROOT, p)]))('%s passes inframeter validate', (path) => {
    const result = spawnSync(process.execPath, [MAIN, 'validate', '--config', join(ROOT, path)], {
      encoding: 'utf8',
      // From the repository root, as the examples say to run them (their relative paths).
      cwd: ROOT,
      // Credentials the examples take from the environment.
      env: {
        ...process.env,
        INFRAMETER_TOKEN: 'token',
        // What the downward API gives a node agent.
        K8S_NODE_NAME: 'node-1',
        SNMP_COMMUNITY: 'public',
        BMC_USER: 'admin',
        BMC_PASSWORD: 'secret',
        SNMP_AUTH_KEY: 'authpass1',
        SNMP_PRIV_KEY: 'privpass1',
        KWOLLECT_DB_PASSWORD: 'changeme',
        INFLUX_PASSWORD: 'secret',
        REMOTE_WRITE_PASSWORD: 'secret',
      },
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('single-host-csv.yaml runs and writes its CSV', async () => {
    const [prometheus, telemetry] = [await freePort(), await freePort()];
    const config = readFileSync(join(EXAMPLES, 'single-host-csv.yaml'), 'utf8')
      .replace('collection_interval: 5s', 'collection_interval: 500ms')
      .replace('127.0.0.1:9464', `127.0.0.1:${String(prometheus)}`)
      .replace('127.0.0.1:8888', `127.0.0.1:${String(telemetry)}`);
    expect(config).toContain(String(prometheus));
    writeFileSync(join(dir, 'single-host.yaml'), config);
    const child = spawn(process.execPath, [MAIN, 'run', '--config', 'single-host.yaml'], {
      cwd: dir,
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // The collector's start is in it: 60 s, as collectors.start gives one.
    await poll('two scrapes in the CSV', 60_000, () => {
      try {
        const rows = parseCsv<Record<string, string>>(readFileSync(join(dir, 'host-metrics.csv'), 'utf8'), {
          columns: true,
        });
        return Promise.resolve(new Set(rows.map((r) => r.timestamp)).size >= 2 ? rows : undefined);
      } catch {
        return Promise.resolve(undefined);
      }
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const rows = parseCsv<Record<string, string>>(readFileSync(join(dir, 'host-metrics.csv'), 'utf8'), {
      columns: true,
    });
    const metrics = new Set(rows.map((r) => r.metric));
    for (const m of ['system.cpu.time', 'system.memory.usage', 'system.network.io'])
      expect(metrics.has(m)).toBe(true);
  }, 120_000);
});
