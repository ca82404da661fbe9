import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Peer } from './support/peers.ts';
import { freePort, missing, poll, startPeer } from './support/peers.ts';
import type { RunningPostgres } from './support/postgres.ts';
import { startPostgres } from './support/postgres.ts';

// `inframeter run --kwollector-config FILE` and `--kwollector-wattmetre-config FILE` with
// kwollect's own configuration files as its document writes them (only the database's
// address is the test's), into a real PostgreSQL 15: the rows land in `metrics` exactly.
const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
const TESTDATA = join(ROOT, 'receivers', 'kwollect', 'testdata');
const GENERATOR = join(ROOT, 'receivers', 'wattmetre', 'testdata', 'generator.ts');

const skip =
  missing('prometheus-node-exporter', 'prometheus-node-exporter') ||
  missing('/usr/lib/postgresql/15/bin/initdb', 'postgresql');

interface Row {
  ts: string;
  device_id: string;
  metric_id: string;
  value: number;
  labels: Record<string, unknown>;
}

/** kwollector's file from the document, pointed at the test's database and metrics.d. */
function kwollectorFile(
  server: RunningPostgres,
  database: string,
  metricsDir: string,
  logLevel = 'warning',
): string {
  return readFileSync(join(TESTDATA, 'kwollector.yaml'), 'utf8')
    .replace('metrics_dir: /etc/kwollect/metrics.d/', `metrics_dir: ${metricsDir}`)
    .replace('db_host: localhost ', `db_host: ${server.host}\ndb_port: ${String(server.port)}`)
    .replace('db_name: kwdb', `db_name: ${database}`)
    .replace('db_user: kwuser', `db_user: ${server.user}`)
    .replace('log_level: warning', `log_level: ${logLevel}`);
}

function run(args: readonly string[]): {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [MAIN, 'run', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stderr: () => stderr, exited };
}

describe.skipIf(skip)("kwollectors' configuration files, run as they are", () => {
  let server: RunningPostgres | undefined;
  let nodeExporter: Peer | undefined;
  let promPort = 0;
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-kwollector-'));

  beforeAll(async () => {
    server = await startPostgres({ fsync: 'off', TimeZone: 'UTC' });
    mkdirSync(join(dir, 'textfile'));
    // The document's custom metric, through node_exporter's textfile collector.
    writeFileSync(
      join(dir, 'textfile', 'kwollect.prom'),
      'kwollect_custom{_metric_id="my_metric", _timestamp="1606389005.1234"} 42\n',
    );
    promPort = await freePort();
    nodeExporter = startPeer('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${String(promPort)}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${join(dir, 'textfile')}`,
    ]);
    await poll('node_exporter', 30_000, async () =>
      (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`).catch(() => undefined))?.ok === true
        ? true
        : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), nodeExporter?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = (database: string, where = 'true'): Promise<Row[]> =>
    (server as RunningPostgres).query<Row>(
      `SET TIME ZONE 'UTC'; SELECT "timestamp"::text AS ts, device_id, metric_id, value, labels FROM metrics WHERE ${where} ORDER BY 1, 2, labels::text`,
      undefined,
      database,
    );

  it('--kwollector-config: the metrics.d entries into the database the file names, at its log level', async () => {
    const pg = server as RunningPostgres;
    const database = await pg.createDatabase('kwollector');
    const metricsDir = join(dir, 'metrics.d');
    mkdirSync(metricsDir);
    writeFileSync(
      join(metricsDir, 'node-1.yaml'),
      [
        '- name: node1_custom',
        '  device_id: node-1',
        `  url: prometheus://127.0.0.1:${String(promPort)}/kwollect_custom`,
        '  update_every: 1000',
        '  labels: {_device_alias: rack-1}',
        '',
      ].join('\n'),
    );
    const config = join(dir, 'kwollector.yaml');
    writeFileSync(config, kwollectorFile(pg, database, metricsDir));

    const validate = spawnSync(process.execPath, [MAIN, 'validate', '--kwollector-config', config], {
      encoding: 'utf8',
    });
    expect(validate.stderr).toBe('');
    expect(validate.stdout).toContain('metrics: [kwollect] → [postgresql]');

    const collector = run(['--kwollector-config', config]);
    try {
      await poll('my_metric in metrics', 60_000, async () => {
        if (collector.child.exitCode !== null) throw new Error(`inframeter exited: ${collector.stderr()}`);
        return (await rows(database)).length > 0 ? true : undefined;
      });
    } finally {
      collector.child.kill('SIGTERM');
    }
    expect(await collector.exited, collector.stderr()).toBe(0);
    // Read every second, the same sample (its own timestamp) is stored once.
    expect(await rows(database)).toEqual([
      {
        ts: '2020-11-26 11:10:05.1234+00',
        device_id: 'node-1',
        metric_id: 'my_metric',
        value: 42,
        labels: { _device_alias: 'rack-1' },
      },
    ]);
    // log_level: warning is the collector's warn: no info lines.
    const levels = collector
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level < 40)).toEqual([]);
  }, 120_000);

  it('--kwollector-wattmetre-config: frames on standard input, as piped into kwollector-wattmetre', async () => {
    const pg = server as RunningPostgres;
    const database = await pg.createDatabase('wattmetre');
    const config = join(dir, 'kwollector-wattmetre.yaml');
    // The document's file, with the test's database and kwollect's mapping file.
    writeFileSync(
      config,
      [
        '# Wattmetre identifier, used as device_id',
        'wattmetre_id: wattmetre1',
        `mapping_file_path: '${join(TESTDATA, 'wattmetre-mapping.yaml')}'`,
        `db_name: ${database}`,
        `db_user: ${pg.user}`,
        'db_password: changeme',
        `db_host: ${pg.host}`,
        `db_port: ${String(pg.port)}`,
        'log_level: warning',
        '',
      ].join('\n'),
    );
    const collector = run(['--kwollector-wattmetre-config', config]);
    // wattmetre-read … | kwollector-wattmetre FILE: 50 frames at 50 Hz, port p of frame i draws i + p / 100 W.
    const generator = spawn(process.execPath, [GENERATOR, '50', '50', '1795000000', '0', '3'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    generator.stdout.pipe(collector.child.stdin as NodeJS.WritableStream);
    try {
      await poll('150 power rows', 60_000, async () => {
        if (collector.child.exitCode !== null) throw new Error(`inframeter exited: ${collector.stderr()}`);
        const [count] = await pg.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM metrics WHERE metric_id = 'hw.power'",
          undefined,
          database,
        );
        return count?.n === 150 ? true : undefined;
      });
    } finally {
      collector.child.kill('SIGTERM');
    }
    expect(await collector.exited, collector.stderr()).toBe(0);
    // Times to the millisecond the meter printed: the wattmetre receiver carries a frame's
    // time as a double, which puts it up to 1 µs off the printed digits.
    const power = await pg.query<Row & { ms: string }>(
      `SELECT round(extract(epoch FROM "timestamp") * 1000)::bigint::text AS ms, device_id, value, labels
         FROM metrics WHERE metric_id = 'hw.power' ORDER BY "timestamp", labels->>'hw.id'`,
      undefined,
      database,
    );
    const port = (p: number): Record<string, string> => ({
      'hw.id': `wattmetre1-port${String(p)}`,
      'hw.type': 'power_supply',
    });
    const expected = Array.from({ length: 50 }, (_, i) =>
      [0, 1, 2].map((p) => ({
        ms: String(1_795_000_000_000 + i * 20),
        device_id: p === 2 ? 'node-2' : 'node-1',
        value: i + p / 100,
        labels: port(p),
      })),
    ).flat();
    expect(power).toEqual(expected);
    // Only the port's readings: the receiver's own frame counters are not kwollect metrics.
    const metrics = await pg.query<{ metric_id: string }>(
      'SELECT DISTINCT metric_id FROM metrics ORDER BY 1',
      undefined,
      database,
    );
    expect(metrics.map((m) => m.metric_id)).toEqual(['hw.energy', 'hw.power']);
  }, 120_000);

  it('refuses a key kwollector does not have, naming the file and the key', () => {
    const config = join(dir, 'typo.yaml');
    writeFileSync(config, 'metrics_dir: /nonexistent\ndb_hots: localhost\nlog_level: loud\n');
    const result = spawnSync(process.execPath, [MAIN, 'validate', '--kwollector-config', config], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${config}: db_hots: not a kwollector setting`);
    expect(result.stderr).toContain(
      `${config}: log_level: expected one of debug, info, warning, error, critical`,
    );
    const both = spawnSync(
      process.execPath,
      [MAIN, 'validate', '--config', config, '--kwollector-wattmetre-config', config],
      { encoding: 'utf8' },
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toContain(
      'give only one of --config, --kwollector-config and --kwollector-wattmetre-config',
    );
  });
});
