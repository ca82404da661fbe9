import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, parseSamples, poll } from './support/peers.ts';

// The real CLI, run as users run it: `node service/main.ts …` in a child process.
const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const FIXTURE = join(
  import.meta.dirname,
  '..',
  'receivers',
  'procfs',
  'testdata',
  'fixtures',
  'linux-6.18-recorded',
);
// MemTotal of the recorded fixture, in kB (its proc/meminfo).
const FIXTURE_MEMTOTAL_KB = Number(
  /MemTotal:\s+(\d+)/.exec(readFileSync(join(FIXTURE, 'proc', 'meminfo'), 'utf8'))?.[1],
);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    cwd: dir,
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else
      child.once('exit', (code) => {
        resolve(code);
      });
  });
}

describe('inframeter CLI', () => {
  it('prints its version and help', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const version = cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    for (const command of ['run', 'validate', 'components']) expect(help.stdout).toContain(command);
  });

  it('validate: every problem with its YAML path, exit code 2', () => {
    const path = writeConfig(
      'bad.yaml',
      [
        'receivers:',
        '  procfs:',
        '    collection_interval: soon',
        '  nosuch: {}',
        'exporters:',
        '  csv:',
        '    path: x.csv',
        'service:',
        '  pipelines:',
        '    metrics:',
        '      receivers: [procfs]',
        '      exporters: [csv, prometheus]',
        '',
      ].join('\n'),
    );
    const result = cli(['validate', '--config', path]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('receivers.procfs.collection_interval');
    expect(result.stderr).toContain('receivers.nosuch');
    expect(result.stderr).toContain('service.pipelines.metrics.exporters[1]');
  });

  it('validate: a good file exits 0', () => {
    const path = writeConfig(
      'good.yaml',
      'receivers:\n  procfs: {}\nexporters:\n  csv:\n    path: x.csv\nservice:\n  pipelines:\n    metrics:\n      receivers: [procfs]\n      exporters: [csv]\n',
    );
    const result = cli(['validate', '--config', path]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('validate: a deprecated spelling is accepted with a warning naming its path and the new key', () => {
    const path = writeConfig(
      'old.yaml',
      'receivers:\n  procfs:\n    metrics:\n      paging: { enabled: false }\nexporters:\n  csv:\n    path: x.csv\nservice:\n  pipelines:\n    metrics:\n      receivers: [procfs]\n      exporters: [csv]\n',
    );
    const result = cli(['validate', '--config', path]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      'warning: receivers.procfs.metrics.paging: deprecated: "metrics: { paging: { enabled: false } }" is still read in this release and will be rejected in the next one; write "groups: { paging: { enabled: false } }"',
    );
  });

  it('components lists every type with its config keys and defaults', () => {
    const result = cli(['components']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('procfs');
    expect(result.stdout).toContain('root_path');
    expect(result.stdout).toContain('prometheus');
    expect(result.stdout).toContain('9464');
    expect(result.stdout).toContain('  otlp (beta; metrics, logs): Sends metrics and logs');
    expect(result.stdout).toContain('  kubevirt_logs (alpha; logs): ');
  });

  it('run: serves the fixture host on Prometheus, and the CSV is complete on disk after SIGINT', async () => {
    const port = await freePort();
    const csvPath = join(dir, 'run.csv');
    const path = writeConfig(
      'run.yaml',
      [
        'receivers:',
        '  procfs:',
        `    root_path: ${FIXTURE}`,
        '    collection_interval: 200ms',
        '    groups:',
        '      filesystem: { enabled: false }',
        'exporters:',
        '  prometheus:',
        `    endpoint: 127.0.0.1:${String(port)}`,
        '  csv:',
        `    path: ${csvPath}`,
        'service:',
        '  telemetry:',
        '    metrics:',
        '      address: 127.0.0.1:0',
        '  pipelines:',
        '    metrics:',
        '      receivers: [procfs]',
        '      exporters: [prometheus, csv]',
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [MAIN, 'run', '--config', path], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = exited(child);
    try {
      // The collector's start is in it: 60 s, as collectors.start gives one.
      const samples = await poll('exposition with memory', 60_000, async () => {
        const response = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
        const found = parseSamples(await response.text());
        return found.some((s) => s.name === 'system_memory_limit_bytes') ? found : undefined;
      });
      expect(stdout).toContain(`exporter prometheus: http://127.0.0.1:${String(port)}/metrics`);
      expect(samples.find((s) => s.name === 'system_memory_limit_bytes')?.value).toBe(
        FIXTURE_MEMTOTAL_KB * 1024,
      );
      // The entry point re-executed Node.js with its heap flags in the same process.
      const cmdline = readFileSync(`/proc/${String(child.pid)}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(1, 4)).toEqual([
        '--max-semi-space-size=2',
        '--heap-growing-percent=30',
        '--optimize-for-size',
      ]);
      expect(cmdline).toContain('run');
    } finally {
      child.kill('SIGINT');
    }
    expect(await code).toBe(0);
    const rows = parseCsv<Record<string, string>>(readFileSync(csvPath, 'utf8'), { columns: true });
    const memory = rows.filter((r) => r.metric === 'system.memory.limit');
    expect(memory.length).toBeGreaterThan(0);
    expect(memory.every((r) => Number(r.value) === FIXTURE_MEMTOTAL_KB * 1024)).toBe(true);
  }, 120_000);

  describe('a second signal while an exporter hangs on shutdown', () => {
    let silent: Server | undefined;
    let silentPort = 0;
    let silentRequests = 0;
    let silentOpen = 0;
    beforeAll(async () => {
      // Accepts connections and never answers: an OTLP backend that hangs.
      silent = createServer((socket) => {
        silentRequests += 1;
        silentOpen += 1;
        socket.on('close', () => {
          silentOpen -= 1;
        });
      });
      await new Promise<void>((resolve) => silent?.listen(0, '127.0.0.1', resolve));
      silentPort = (silent.address() as { port: number }).port;
    });
    afterAll(() => {
      silent?.close();
    });

    it('exits at once with code 130', async () => {
      const path = writeConfig(
        'hang.yaml',
        [
          'receivers:',
          '  procfs:',
          `    root_path: ${FIXTURE}`,
          '    collection_interval: 100ms',
          'exporters:',
          '  otlp:',
          `    endpoint: http://127.0.0.1:${String(silentPort)}`,
          '    protocol: http/protobuf',
          '    timeout: 60s',
          'service:',
          '  telemetry:',
          '    metrics:',
          '      address: 127.0.0.1:0',
          '  pipelines:',
          '    metrics:',
          '      receivers: [procfs]',
          '      exporters: [otlp]',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [MAIN, 'run', '--config', path], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = exited(child);
      // The collector's start is in it: 60 s, as collectors.start gives one.
      await poll('collector started', 60_000, () =>
        Promise.resolve(stdout.includes('Press Ctrl-C') ? true : undefined),
      );
      // An export has started and hangs on the silent server.
      await poll('an export at the silent server', 30_000, () =>
        Promise.resolve(silentRequests > 0 ? true : undefined),
      );
      child.kill('SIGINT');
      await poll('the shutdown begun', 30_000, () =>
        Promise.resolve(stderr.includes('shutting down') ? true : undefined),
      );
      // The collector closes its telemetry server only after every exporter has flushed (the
      // export waits 60 s, the flush 10 s): an answer now, with the export still holding its
      // connection, shows the first signal has not ended the process.
      const own = /own metrics: (http:\/\/\S+)\/metrics/.exec(stdout)?.[1];
      if (own === undefined) throw new Error(`no telemetry address in: ${stdout}`);
      expect((await fetch(`${own}/healthz`)).status).toBe(200);
      expect(silentOpen).toBeGreaterThan(0);
      expect(child.exitCode).toBeNull();
      child.kill('SIGINT');
      expect(await code).toBe(130);
    }, 180_000);
  });
});
