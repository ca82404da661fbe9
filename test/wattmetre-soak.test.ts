import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { poll } from './support/peers.ts';

// One meter as a site has it: 42 ports at 50 frames/s for 60 s, through the real CLI into a
// CSV file. Every sample the generator wrote must be in the file, once.
const ROOT = join(import.meta.dirname, '..');
const GENERATOR = join(ROOT, 'receivers', 'wattmetre', 'testdata', 'generator.ts');
const FRAMES = 3000;
const PORTS = 42;
const dir = mkdtempSync(join(tmpdir(), 'inframeter-wattmetre-soak-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('wattmetre: 42 ports at 50 Hz for 60 s', () => {
  // Up to 110 s for the samples (60 s of them, a loaded machine runs behind), then the exit.
  it('exports every sample exactly once', { timeout: 180_000 }, async () => {
    const csv = join(dir, 'power.csv');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'receivers:',
        '  wattmetre:',
        '    source:',
        `      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(GENERATOR)}, "${String(FRAMES)}", "50", "1795000000", "1", "${String(PORTS)}"]`,
        '    wattmetre_id: wattmetre1',
        '    restart_delay: 1h',
        'exporters:',
        '  csv:',
        `    path: ${csv}`,
        'service:',
        '  pipelines:',
        '    metrics: { receivers: [wattmetre], exporters: [csv] }',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      [join(ROOT, 'service', 'main.ts'), 'run', '--config', join(dir, 'config.yaml')],
      { cwd: dir, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const started = Date.now();
    const power = (): string[] =>
      readFileSync(csv, 'utf8')
        .split('\n')
        .filter((l) => l.includes(',hw.power,'));
    await poll('every sample in the CSV', 110_000, () => {
      try {
        return Promise.resolve(power().length >= FRAMES * PORTS ? true : undefined);
      } catch {
        return Promise.resolve(undefined);
      }
    });
    const seconds = (Date.now() - started) / 1000;
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(seconds).toBeGreaterThanOrEqual(59);
    const lines = power();
    expect(lines).toHaveLength(FRAMES * PORTS);
    // Every (frame, port) once: value i + p/100 on port p, at 1795000000 + i/50.
    const seen = new Set(lines.map((l) => l.split(',')[5]));
    expect(seen.size).toBe(FRAMES * PORTS);
    expect(seen.has(String(FRAMES - 1 + (PORTS - 1) / 100))).toBe(true);
    // Each sample carries the meter's timestamp, not the time it was exported.
    expect(lines.filter((l) => l.startsWith('2026-11-18T11:06:40.000Z,'))).toHaveLength(PORTS);
    expect(lines.filter((l) => l.startsWith('2026-11-18T11:07:39.980Z,'))).toHaveLength(PORTS);
  });
});
