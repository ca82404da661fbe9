import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, missing, poll } from './support/peers.ts';

/**
 * What the container image runs, without a Docker engine: the Dockerfile's build stage
 * (`npm run build`, i.e. tsc with tsconfig.build.json) and its final stage (`npm ci
 * --omit=dev` beside the compiled `dist/`), laid out in a directory as the image lays out
 * /app. The CLI then runs from there with production dependencies only, so a runtime import
 * of a devDependency, a file the build leaves out, or a native library (koffi + libvirt0)
 * that does not load fails here rather than in a cluster.
 */

const ROOT = join(import.meta.dirname, '..');
const NODE = process.execPath;
const PROCFS_FIXTURE = join(ROOT, 'receivers/procfs/testdata/fixtures/linux-6.18-recorded');
const noVirsh = missing('virsh', 'libvirt-clients');

let app = '';
let work = '';

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'inframeter-app-'));
  work = mkdtempSync(join(tmpdir(), 'inframeter-app-work-'));
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(app, file));
  const install = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (install.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${install.stderr}`);
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const build = spawnSync(
    NODE,
    [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
  if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);
}, 480_000);

afterAll(() => {
  for (const dir of [app, work]) if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(NODE, [join(app, 'dist/service/main.js'), ...args], {
    cwd: work,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('container image runtime (production dependencies and dist/ only)', () => {
  it('holds exactly the packages the lockfile marks as production ones', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, entry]) => entry.dev === true);
    const production = entries.filter(([, entry]) => entry.dev !== true && entry.optional !== true);
    expect(devOnly.map(([path]) => path)).toContain('node_modules/vitest');
    for (const [path] of devOnly) expect(existsSync(join(app, path, 'package.json')), path).toBe(false);
    for (const [path] of production) expect(existsSync(join(app, path, 'package.json')), path).toBe(true);
  });

  it('lists every component and validates the embedded default', () => {
    const components = cli(['components']);
    expect(components.stderr).toBe('');
    expect(components.status).toBe(0);
    const fromSource = spawnSync(NODE, [join(ROOT, 'service/main.ts'), 'components'], { encoding: 'utf8' });
    expect(components.stdout).toBe(fromSource.stdout);
    expect(cli(['--version']).stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it.skipIf(noVirsh)(
    'collects procfs and libvirt (koffi, libvirt0) into CSV and flushes it on SIGTERM',
    async () => {
      const [prometheus, telemetry] = [await freePort(), await freePort()];
      const csv = join(work, 'metrics.csv');
      const config = join(work, 'image.yaml');
      writeFileSync(
        config,
        [
          'receivers:',
          '  procfs:',
          `    root_path: ${PROCFS_FIXTURE}`,
          '    collection_interval: 500ms',
          '  libvirt:',
          '    uris: ["test:///default"]',
          '    collection_interval: 500ms',
          'exporters:',
          '  csv:',
          `    path: ${csv}`,
          '  prometheus:',
          `    endpoint: 127.0.0.1:${String(prometheus)}`,
          'service:',
          '  telemetry:',
          '    metrics:',
          `      address: 127.0.0.1:${String(telemetry)}`,
          '  pipelines:',
          '    metrics:',
          '      receivers: [procfs, libvirt]',
          '      exporters: [csv, prometheus]',
          '',
        ].join('\n'),
      );
      expect(cli(['validate', '--config', config]).status).toBe(0);
      const child = spawn(NODE, [join(app, 'dist/service/main.js'), 'run', '--config', config], {
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        await poll('a libvirt domain in the exposition', 20_000, async () => {
          const response = await fetch(`http://127.0.0.1:${String(prometheus)}/metrics`);
          const text = await response.text();
          return text.includes('libvirt_domain_name="test"') ? text : undefined;
        });
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      expect(child.exitCode, output).toBe(0);
      const rows = parseCsv<Record<string, string>>(readFileSync(csv, 'utf8'), { columns: true });
      const vcpus = rows.find(
        (row) => row.metric === 'inframeter.libvirt.domain.vcpu.count' && row.attributes?.includes('"test"'),
      );
      const dominfo = spawnSync('virsh', ['-c', 'test:///default', 'dominfo', 'test'], { encoding: 'utf8' });
      expect(vcpus?.value).toBe(/CPU\(s\):\s+(\d+)/.exec(dominfo.stdout)?.[1]);
      // MemTotal of the recorded fixture, in kB (its proc/meminfo), as bytes.
      const memTotalKb = /MemTotal:\s+(\d+)/.exec(
        readFileSync(join(PROCFS_FIXTURE, 'proc/meminfo'), 'utf8'),
      )?.[1];
      const limit = rows.find((row) => row.metric === 'system.memory.limit');
      expect(limit?.value).toBe(String(Number(memTotalKb) * 1024));
    },
  );
});
