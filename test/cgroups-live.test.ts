import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { errorCode } from '../kit/errors.ts';
import { configSchema } from '../receivers/cgroups/config.ts';
import { parseCgroupMounts, resolveHierarchies } from '../receivers/cgroups/parse/mounts.ts';
import type { CgroupEntry } from '../receivers/cgroups/snapshot.ts';
import { CgroupsScraper } from '../receivers/cgroups/scraper.ts';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema as processConfigSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { scrapeOnce } from './support/settings.ts';

/**
 * The receiver against a real cgroup of this machine: creates one (v1 cpu, cpuacct, memory and
 * the unified tree on a hybrid host; the unified tree on a v2 host), moves a child process in
 * that burns CPU and allocates memory, and checks that the receiver sees both rise; then, with
 * the process stopped, that the CPU time, memory usage, RSS and limit it reports equal the files
 * read directly, and the same for this test's own memory cgroup. Creating
 * cgroups needs root and a writable cgroupfs; where that is refused, the test says so and
 * checks the same readings on the recorded fixture instead.
 */

const NAME = `inframeter-test-${process.pid}`;
const created: string[] = [];
let child: ChildProcess | undefined;

const LIMIT = 1024 * 1024 * 1024;
const hierarchies = resolveHierarchies(
  parseCgroupMounts(readFileSync('/proc/self/mounts', 'utf8'), '/proc/self/mounts'),
);

/** Directories to create: one per hierarchy the receiver reads CPU and memory from. */
function cgroupDirs(): string[] {
  if (hierarchies === undefined) return [];
  const dirs = new Set<string>();
  for (const controller of ['cpu', 'cpuacct', 'memory']) {
    const mount = hierarchies.v1.get(controller);
    if (mount !== undefined) dirs.add(join(mount, NAME));
  }
  if (hierarchies.unified !== undefined) dirs.add(join(hierarchies.unified, NAME));
  return [...dirs];
}

/** Creates the cgroups; the error code when the sandbox refuses. */
function createCgroups(dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    try {
      mkdirSync(dir);
      created.push(dir);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return code;
      throw error;
    }
  }
  return undefined;
}

/**
 * A process that, once told to go on its stdin, burns CPU and grows its heap by 8 MiB every
 * 50 ms, up to 160 MiB, writing a line for each 8 MiB. It waits for the word so that every page it touches is charged to the
 * cgroup it has been moved into by then: pages stay charged where they were first touched.
 */
function startBusyChild(): ChildProcess {
  const script = `
    const chunks = [];
    process.stdin.once('data', () => {
      setInterval(() => {
        const end = Date.now() + 40;
        while (Date.now() < end) Math.sqrt(Math.random());
        if (chunks.length < 20) {
          chunks.push(Buffer.alloc(8 * 1024 * 1024, 1));
          process.stdout.write('grew\\n');
        }
      }, 50);
    });
    process.stdout.write('ready\\n');`;
  return spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
}

/** Until the busy child has written `count` lines since it was told to go. */
async function childGrew(proc: ChildProcess, count: number): Promise<void> {
  const stdout = proc.stdout;
  if (stdout === null) throw new Error('the busy child has no stdout');
  await new Promise<void>((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      reject(new Error(`the busy child grew ${String(seen)} times in 60 s, not ${String(count)}`));
    }, 60_000);
    const onData = (data: Buffer): void => {
      seen += data.toString().split('grew').length - 1;
      if (seen < count) return;
      clearTimeout(timer);
      stdout.off('data', onData);
      resolve();
    };
    stdout.on('data', onData);
  });
}

async function waitForLine(proc: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.once('data', () => {
      resolve();
    });
    proc.once('exit', (code) => {
      reject(new Error(`child exited early (${String(code)})`));
    });
  });
}

afterAll(async () => {
  if (child?.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  for (const dir of created.reverse()) {
    // The kernel frees a cgroup's last pages shortly after its last process exits.
    for (let attempt = 0; attempt < 50 && existsSync(dir); attempt++) {
      try {
        rmdirSync(dir);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
});

/** A key's value in a flat-keyed file (`memory.stat`, `cpu.stat`), read directly. */
function statValue(file: string, key: string): number {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key} `));
  if (line === undefined) throw new Error(`${key} not in ${file}`);
  return Number(line.slice(key.length + 1));
}

/** The figures the receiver reports for the cgroup at `path`, read directly from its files with cat-like reads. */
function readDirect(path: string): { cpu?: number; usage: number; rss: number; limit: string } {
  const memory = hierarchies?.v1.get('memory');
  const cpuacct = hierarchies?.v1.get('cpuacct');
  const unified = hierarchies?.unified;
  const cpu =
    cpuacct !== undefined && existsSync(join(cpuacct, path, 'cpuacct.usage'))
      ? Number(readFileSync(join(cpuacct, path, 'cpuacct.usage'), 'utf8')) / 1e9
      : unified !== undefined && existsSync(join(unified, path, 'cpu.stat'))
        ? statValue(join(unified, path, 'cpu.stat'), 'usage_usec') / 1e6
        : undefined;
  if (memory !== undefined) {
    const dir = join(memory, path);
    return {
      ...(cpu === undefined ? {} : { cpu }),
      usage: Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8')),
      rss: statValue(join(dir, 'memory.stat'), 'rss'),
      limit: readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8').trim(),
    };
  }
  const dir = join(unified ?? '/sys/fs/cgroup', path);
  return {
    ...(cpu === undefined ? {} : { cpu }),
    usage: Number(readFileSync(join(dir, 'memory.current'), 'utf8')),
    rss: statValue(join(dir, 'memory.stat'), 'anon'),
    limit: readFileSync(join(dir, 'memory.max'), 'utf8').trim(),
  };
}

/**
 * Scrapes until the files read directly just before and just after the scrape agree (a quiet
 * moment), then returns what the receiver read and what the files held.
 */
async function scrapeQuiet(
  scraper: CgroupsScraper,
  path: string,
): Promise<{ entry: CgroupEntry; direct: ReturnType<typeof readDirect> }> {
  for (let attempt = 0; ; attempt++) {
    const before = readDirect(path);
    const entry = await scrapeOne(scraper, path);
    const after = readDirect(path);
    if (JSON.stringify(before) === JSON.stringify(after)) return { entry, direct: after };
    if (attempt === 50) throw new Error(`${path} never held still: ${JSON.stringify([before, after])}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Limit as the receiver reports it: undefined for `max` and the v1 "unlimited" value (LONG_MAX rounded down to a page). */
function expectedLimit(text: string): number | undefined {
  const value = text === 'max' ? Number.NaN : Number(text);
  return Number.isNaN(value) || value >= 2 ** 62 ? undefined : value;
}

/** CPU seconds (user + system) /proc/<pid>/stat shows `pid` has burnt, in clock ticks of 10 ms. */
function procCpuSeconds(pid: number): number {
  const fields =
    readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Until /proc shows `pid` has burnt `seconds` more CPU: longer on a loaded machine. */
async function childBurns(pid: number, seconds: number): Promise<void> {
  const cpu = (): number => procCpuSeconds(pid);
  const target = cpu() + seconds;
  for (let waited = 0; cpu() < target; waited += 100) {
    if (waited > 60_000) throw new Error(`the busy child did not burn ${String(seconds)} s of CPU in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function scrapeOne(scraper: CgroupsScraper, path: string): Promise<CgroupEntry> {
  const { errors } = await scraper.scrape(new AbortController().signal);
  expect([...errors].filter(([key]) => key.includes(NAME))).toEqual([]);
  const entry = scraper.snapshot().cgroups.find((c) => c.path === path);
  if (entry === undefined) throw new Error(`${path} not found by the receiver`);
  return entry;
}

describe('cgroups receiver on a real cgroup of this machine', () => {
  it('sees the CPU time and memory of a busy process rise (or, where cgroups cannot be created, reads the recorded tree)', async () => {
    const dirs = cgroupDirs();
    const refused = dirs.length === 0 ? 'no cgroup hierarchy mounted' : createCgroups(dirs);
    if (refused !== undefined) {
      console.log(
        `creating cgroups is not allowed here (${refused}): checking the receiver on the recorded hybrid fixture instead of a live cgroup`,
      );
      const fixture = join(import.meta.dirname, '../receivers/cgroups/testdata/fixtures/hybrid-recorded');
      const scraper = new CgroupsScraper(configSchema.parse({ root_path: fixture }));
      const entry = await scrapeOne(
        scraper,
        '/docker/3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c',
      );
      expect(entry.stats.cpu.usageSec).toBeCloseTo(0.827326327, 9);
      expect(entry.stats.memory.rss).toBe(57769984);
      return;
    }
    console.log(`created ${dirs.join(', ')}`);
    child = startBusyChild();
    await waitForLine(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error('no child pid');
    const memoryDir = dirs.find(
      (d) => existsSync(join(d, 'memory.limit_in_bytes')) || existsSync(join(d, 'memory.max')),
    );
    if (memoryDir !== undefined) {
      const file = existsSync(join(memoryDir, 'memory.max')) ? 'memory.max' : 'memory.limit_in_bytes';
      writeFileSync(join(memoryDir, file), `${String(LIMIT)}\n`);
    }
    for (const dir of dirs) writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
    // What the child burnt before it was moved in (starting Node), charged to no cgroup of ours:
    // it idles until told to go, so this holds still.
    const cpuOutside = procCpuSeconds(pid);

    const scraper = new CgroupsScraper(
      configSchema.parse({ include: [`/${NAME}`], groups: { network: { enabled: true } } }),
    );
    const t0 = Date.now();
    const before = await scrapeOne(scraper, `/${NAME}`);
    const t1 = Date.now();
    const grown = childGrew(child, 12);
    child.stdin?.write('go\n');
    await childBurns(pid, 0.5);
    await grown; // 96 MiB, all touched inside the cgroup
    const t2 = Date.now();
    const after = await scrapeOne(scraper, `/${NAME}`);
    const t3 = Date.now();

    const cpuBefore = before.stats.cpu.usageSec ?? Number.NaN;
    const cpuAfter = after.stats.cpu.usageSec ?? Number.NaN;
    const memBefore = before.stats.memory.usage ?? Number.NaN;
    const memAfter = after.stats.memory.usage ?? Number.NaN;
    console.log(
      `cpu ${cpuBefore.toFixed(3)} s → ${cpuAfter.toFixed(3)} s, usage ${String(after.stats.cpuUsage?.toFixed(2))} CPUs; memory ${(memBefore / 2 ** 20).toFixed(1)} MiB → ${(memAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(before.attributes).toEqual({ 'cgroup.path': `/${NAME}`, 'inframeter.cgroups.kind': 'other' });
    expect(cpuAfter - cpuBefore).toBeGreaterThan(0.3);
    // CPUs used: the cgroup's CPU time over the time between the two reads, which lies between
    // the ends of the first scrape and the start of the second, and their start and end.
    const burnt = cpuAfter - cpuBefore;
    expect(after.stats.cpuUsage).toBeGreaterThanOrEqual((burnt / ((t3 - t0) / 1000)) * 0.999);
    expect(after.stats.cpuUsage).toBeLessThanOrEqual((burnt / ((t2 - t1) / 1000)) * 1.001);
    expect((after.stats.cpu.userSec ?? 0) + (after.stats.cpu.systemSec ?? 0)).toBeGreaterThan(0.3);
    expect(memAfter - memBefore).toBeGreaterThan(32 * 2 ** 20);
    expect(after.stats.memory.rss).toBeGreaterThan(64 * 2 ** 20);
    // The child shares this process's network namespace: the host's, never reported.
    expect(after.stats.network).toEqual([]);

    // Exact figures: with the child stopped its files hold still, and what the receiver
    // reports must equal them, read directly.
    child.kill('SIGSTOP');
    const stopped = await scrapeQuiet(scraper, `/${NAME}`);
    console.log(`stopped child: ${JSON.stringify(stopped.direct)}`);
    expect(stopped.entry.stats.cpu.usageSec).toBe(stopped.direct.cpu);
    expect(stopped.entry.stats.memory.usage).toBe(stopped.direct.usage);
    expect(stopped.entry.stats.memory.rss).toBe(stopped.direct.rss);
    expect(stopped.entry.stats.memory.limit).toBe(LIMIT);
    expect(stopped.direct.limit).toBe(String(LIMIT));

    // The process receiver, selecting by this cgroup, sees the same process and CPU time.
    const processes = new ProcessScraper({
      config: processConfigSchema.parse({ include: { cgroups: [`/${NAME}`] } }),
      client: createFileProcessClient({ rootPath: '/' }),
    });
    const { batch } = await scrapeOnce(processes);
    const cpu = batch.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === 'process.cpu.time')
      .flatMap((m): DataPoint<unknown>[] => m.dataPoints)
      .filter((p) => p.attributes['process.pid'] === pid && p.attributes['cpu.mode'] !== 'wait');
    const pids = new Set(
      batch.scopeMetrics
        .flatMap((s) => s.metrics)
        .flatMap((m) => m.dataPoints.map((p) => p.attributes['process.pid'])),
    );
    pids.delete(undefined); // receiver-wide metrics carry no pid
    expect(pids).toEqual(new Set([pid]));
    const processCpu = cpu.reduce((sum, p) => sum + (p.value as number), 0);
    console.log(
      `process receiver: pid ${String(pid)} cpu ${processCpu.toFixed(3)} s (${cpuOutside.toFixed(2)} s before the move); cgroup ${String(stopped.direct.cpu)} s`,
    );
    // The child is stopped: its CPU time is what it burnt outside the cgroup and inside it, in
    // whole 10 ms ticks (two readings of them, each up to a tick short).
    expect(Math.abs(processCpu - cpuOutside - (stopped.direct.cpu ?? Number.NaN))).toBeLessThanOrEqual(0.03);
    child.kill('SIGCONT');

    // This test's own memory cgroup, as /proc/self/cgroup names it.
    const own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find(([, controllers]) =>
        hierarchies?.v1.has('memory') === true
          ? controllers?.split(',').includes('memory')
          : controllers === '',
      )?.[2];
    if (own === undefined) throw new Error('no memory cgroup in /proc/self/cgroup');
    const ownScraper = new CgroupsScraper(configSchema.parse({ include: [own] }));
    const mine = await scrapeQuiet(ownScraper, own);
    console.log(`own cgroup ${own}: ${JSON.stringify(mine.direct)}`);
    expect(mine.entry.stats.memory.usage).toBe(mine.direct.usage);
    expect(mine.entry.stats.memory.rss).toBe(mine.direct.rss);
    expect(mine.entry.stats.memory.limit).toBe(expectedLimit(mine.direct.limit));
  });
});
