import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { scrapeOnce } from './support/settings.ts';

/**
 * The process receiver on this machine's real /proc: a child that burns CPU and holds 64 MiB,
 * selected by pid file and by command line, compared with what /proc and ps(1) say.
 */
const ALLOCATED = 64 * 1024 * 1024;
const marker = `inframeter-live-${process.pid}-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), 'inframeter-process-live-'));
const pidFile = join(dir, 'child.pid');
let child: ChildProcess;
let pid: number;

/** One line: the command-line regex matches it without crossing a newline. */
const CHILD_SCRIPT = [
  `const held = Buffer.alloc(${ALLOCATED}, 1);`,
  "process.stdout.write('ready ' + held.length + '\\n');",
  'let x = 0;',
  'for (;;) { x = (x + held[x % held.length]) % 1000003; }',
].join(' ');

beforeAll(async () => {
  child = spawn(process.execPath, ['-e', CHILD_SCRIPT, marker], { stdio: ['ignore', 'pipe', 'inherit'] });
  pid = child.pid ?? 0;
  writeFileSync(pidFile, `${pid}\n`);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', () => {
      resolve();
    });
  });
});

afterAll(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function pointsOf(batch: ResourceMetrics, name: string, attributes: Attributes): number[] {
  const values: number[] = [];
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) {
        if (
          Object.entries(attributes).every(([k, v]) => point.attributes[k] === v) &&
          typeof point.value === 'number'
        )
          values.push(point.value);
      }
    }
  }
  return values;
}

function childCpuSeconds(batch: ResourceMetrics): number {
  const user = pointsOf(batch, 'process.cpu.time', { 'process.pid': pid, 'cpu.mode': 'user' });
  const system = pointsOf(batch, 'process.cpu.time', { 'process.pid': pid, 'cpu.mode': 'system' });
  expect(user).toHaveLength(1);
  expect(system).toHaveLength(1);
  return (user[0] ?? 0) + (system[0] ?? 0);
}

function childRss(batch: ResourceMetrics): number {
  const rss = pointsOf(batch, 'process.memory.usage', { 'process.pid': pid });
  expect(rss).toHaveLength(1);
  return rss[0] ?? 0;
}

/** What /proc says now: CPU seconds (utime + stime) and RSS bytes. */
function readProc(): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
  return {
    cpu: (Number(fields[11]) + Number(fields[12])) / 100,
    rss: Number(statm[1]) * 4096,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function createScraper(config: Record<string, unknown>): ProcessScraper {
  return new ProcessScraper({
    config: configSchema.parse(config),
    client: createFileProcessClient({ rootPath: '/' }),
  });
}

describe('process receiver on the real /proc', () => {
  it.each([
    ['a pid file', { include: { pid_files: [pidFile] } }],
    ['a command-line regex', { include: { command_lines: [`.* ${marker}`] }, command_line: true }],
  ])('follows a busy child selected by %s, matching /proc and ps', async (_how, config) => {
    const scraper = createScraper(config);
    const first = await scrapeOnce(scraper, 'process');
    expect([...first.errors.keys()]).toEqual([]);
    const cpu1 = childCpuSeconds(first.batch);
    await sleep(600);
    const second = await scrapeOnce(scraper, 'process');
    const proc = readProc();
    expect([...second.errors.keys()]).toEqual([]);
    const cpu2 = childCpuSeconds(second.batch);
    const rss = childRss(second.batch);

    expect(cpu2).toBeGreaterThan(cpu1);
    expect(rss).toBeGreaterThanOrEqual(ALLOCATED);
    // Read right after the scrape: the child burns at most one CPU in between.
    expect(Math.abs(proc.cpu - cpu2)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(proc.rss - rss) / proc.rss).toBeLessThan(0.05);
    const [psRssKb] = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/);
    expect(Math.abs(Number(psRssKb) * 1024 - rss) / rss).toBeLessThan(0.05);

    const utilization = pointsOf(second.batch, 'process.cpu.utilization', {
      'process.pid': pid,
      'cpu.mode': 'user',
    });
    expect(utilization).toHaveLength(1);
    expect(utilization[0]).toBeGreaterThan(0.1);
    expect(utilization[0]).toBeLessThanOrEqual(1.05);

    const threads = pointsOf(second.batch, 'process.thread.count', { 'process.pid': pid });
    expect(threads[0]).toBeGreaterThanOrEqual(1);
    const fds = pointsOf(second.batch, 'process.unix.file_descriptor.count', { 'process.pid': pid });
    expect(fds[0]).toBeGreaterThanOrEqual(3);
    const names = pointsOf(second.batch, 'process.thread.count', {
      'process.pid': pid,
      'process.executable.name': 'node',
      'process.owner': 'root',
      'process.parent_pid': process.pid,
    });
    expect(names).toHaveLength(1);
  });

  it('finds the child among the top 20 by CPU and by memory (the default selection)', async () => {
    const scraper = createScraper({});
    await scrapeOnce(scraper, 'process');
    await sleep(300);
    const { batch, errors } = await scrapeOnce(scraper, 'process');
    expect([...errors.keys()]).toEqual([]);
    expect(pointsOf(batch, 'process.thread.count', { 'process.pid': pid })).toHaveLength(1);
  });

  it('reports no error when the child exits between two scrapes', async () => {
    const scraper = createScraper({ include: { pid_files: [pidFile], command_lines: [`.* ${marker}`] } });
    const before = await scrapeOnce(scraper, 'process');
    expect(pointsOf(before.batch, 'process.thread.count', { 'process.pid': pid })).toHaveLength(1);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // A fresh collection: the SDK's cumulative storage would repeat the child's last points.
    const after = await scrapeOnce(scraper, 'process');
    expect([...after.errors.keys()]).toEqual([]);
    expect(pointsOf(after.batch, 'process.thread.count', { 'process.pid': pid })).toHaveLength(0);
  });
});
