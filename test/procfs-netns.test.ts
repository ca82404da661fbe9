import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { missing, poll } from './support/peers.ts';

/**
 * A collector in a pod sees the pod's network namespace as its own: /proc/net/dev lists the
 * pod's interfaces. The procfs receiver must report the host's interfaces all the same. Here
 * the real CLI runs in a private network namespace (`unshare --net`, as a pod without
 * hostNetwork has), and its CSV is held against the host's /proc/net/dev read in the same run.
 */
const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'inframeter-netns-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Counters {
  readonly receive: number;
  readonly transmit: number;
}

/** Bytes received and transmitted per interface, from /proc/net/dev text. */
function bytesPerInterface(text: string): Map<string, Counters> {
  const out = new Map<string, Counters>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out.set(line.slice(0, colon).trim(), { receive: fields[0] ?? NaN, transmit: fields[8] ?? NaN });
  }
  return out;
}

const skip = missing('unshare', 'util-linux');

describe.skipIf(skip)('procfs receiver in a private network namespace', () => {
  it('the namespace is private: its own /proc/net/dev shows only lo', () => {
    const inside = spawnSync('unshare', ['--net', '--fork', 'cat', '/proc/net/dev'], { encoding: 'utf8' });
    expect(inside.status, inside.stderr).toBe(0);
    expect([...bytesPerInterface(inside.stdout).keys()]).toEqual(['lo']);
    expect(bytesPerInterface(readFileSync('/proc/net/dev', 'utf8')).size).toBeGreaterThan(1);
  });

  it('reports the host interfaces with the host values', async () => {
    const csvPath = join(dir, 'metrics.csv');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'receivers:',
        '  procfs:',
        '    collection_interval: 1s',
        '    metrics:',
        ...['cpu', 'processes', 'load', 'uptime', 'memory', 'paging', 'disk', 'filesystem'].map(
          (group) => `      ${group}: { enabled: false }`,
        ),
        'exporters:',
        `  csv: { path: ${JSON.stringify(csvPath)}, flush_interval: 0s }`,
        'service:',
        '  pipelines:',
        '    metrics: { receivers: [procfs], exporters: [csv] }',
        '',
      ].join('\n'),
    );
    // The host's counters before the collector reads them: every value it reports lies
    // between this reading and the one after.
    const before = bytesPerInterface(readFileSync('/proc/net/dev', 'utf8'));
    const child = spawn(
      'unshare',
      ['--net', '--fork', '--kill-child', process.execPath, MAIN, 'run', '--config', config],
      {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      const rows = await poll('network rows in the CSV', 60_000, () => {
        let text: string;
        try {
          text = readFileSync(csvPath, 'utf8');
        } catch {
          return Promise.resolve(undefined);
        }
        const all = parseCsv<Record<string, string>>(text, { columns: true });
        const io = all.filter((row) => row.metric === 'system.network.io');
        return Promise.resolve(io.length > 0 ? io : undefined);
      }).catch((error: unknown) => {
        throw new Error(`no rows; collector stderr:\n${stderr}`, { cause: error });
      });
      const after = bytesPerInterface(readFileSync('/proc/net/dev', 'utf8'));
      // One scrape: the rows of the first timestamp.
      const first = rows.filter((row) => row.timestamp === rows[0]?.timestamp);
      const reported = new Map<string, number>();
      for (const row of first) {
        const attributes = JSON.parse(row.attributes ?? '{}') as Record<string, string>;
        reported.set(
          `${attributes['network.interface.name'] ?? ''}/${attributes['network.io.direction'] ?? ''}`,
          Number(row.value),
        );
      }
      expect(new Set([...reported.keys()].map((key) => key.split('/')[0]))).toEqual(new Set(after.keys()));
      expect(after.size).toBeGreaterThan(1);
      for (const [name, low] of before) {
        const high = after.get(name);
        expect(high, name).toBeDefined();
        for (const direction of ['receive', 'transmit'] as const) {
          const value = reported.get(`${name}/${direction}`);
          expect(value, `${name} ${direction}`).toBeGreaterThanOrEqual(low[direction]);
          expect(value, `${name} ${direction}`).toBeLessThanOrEqual(high?.[direction] ?? NaN);
        }
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          process.kill(-(child.pid ?? 0), 'SIGTERM');
        } catch {
          child.kill('SIGKILL');
        }
        await exited;
      }
    }
  }, 120_000);
});
