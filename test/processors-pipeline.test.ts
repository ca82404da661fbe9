import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { poll } from './support/peers.ts';

// The real CLI: procfs (recorded tree) → resource → relabel → batch → csv.
const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'receivers', 'procfs', 'testdata', 'fixtures', 'linux-6.18-recorded');
const MEMTOTAL =
  Number(/MemTotal:\s+(\d+)/.exec(readFileSync(join(FIXTURE, 'proc', 'meminfo'), 'utf8'))?.[1]) * 1024;
const dir = mkdtempSync(join(tmpdir(), 'inframeter-processors-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('processors in a pipeline', () => {
  it('relabel renames, scales and drops; resource adds identity; batch merges; the CSV shows it', async () => {
    const csv = join(dir, 'out.csv');
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:
  procfs:
    root_path: ${FIXTURE}
    collection_interval: 100ms
    groups: { filesystem: { enabled: false } }
processors:
  resource:
    detectors: [os]
    attributes: { deployment.environment: lab }
  relabel:
    include_metrics: ['system\\.memory\\..*', 'system\\.cpu\\.time']
    metrics:
      - match: 'system\\.memory\\.limit'
        rename: mem.total.kib
        scale_factor: 0.0009765625
    metric_relabel_configs:
      - source_labels: [cpu.mode]
        regex: idle|iowait|irq|softirq|steal|guest|guest_nice|nice|interrupt
        action: drop
      - source_labels: [__resource_deployment.environment]
        target_label: env
  batch:
    send_batch_size: 100000
    timeout: 250ms
exporters:
  csv:
    path: ${csv}
    flush_interval: 0s
service:
  pipelines:
    metrics:
      receivers: [procfs]
      processors: [resource, relabel, batch]
      exporters: [csv]
`,
    );
    const child = spawn(
      process.execPath,
      [join(ROOT, 'service', 'main.ts'), 'run', '--config', join(dir, 'config.yaml')],
      { cwd: dir, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // The collector's start is in it: 60 s, as collectors.start gives one.
    await poll('rows in the CSV', 60_000, () => {
      try {
        const n = parseCsv(readFileSync(csv, 'utf8'), { columns: true }).length;
        return Promise.resolve(n > 0 ? n : undefined);
      } catch {
        return Promise.resolve(undefined);
      }
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const rows = parseCsv<Record<string, string>>(readFileSync(csv, 'utf8'), { columns: true });
    const metrics = new Set(rows.map((r) => r.metric ?? ''));
    expect(
      [...metrics].filter(
        (m) => !m.startsWith('system.memory.') && m !== 'system.cpu.time' && m !== 'mem.total.kib',
      ),
    ).toEqual([]);
    const total = rows.find((r) => r.metric === 'mem.total.kib');
    expect(Number(total?.value)).toBe(MEMTOTAL / 1024);
    expect(JSON.parse(total?.attributes ?? '{}')).toEqual({ env: 'lab' });
    expect(JSON.parse(total?.resource ?? '{}')).toMatchObject({
      'deployment.environment': 'lab',
      'os.type': 'linux',
    });
    const modes = new Set(
      rows
        .filter((r) => r.metric === 'system.cpu.time')
        .map((r) => (JSON.parse(r.attributes ?? '{}') as Record<string, unknown>)['cpu.mode']),
    );
    expect(modes).toEqual(new Set(['user', 'system']));
  }, 120_000);
});
