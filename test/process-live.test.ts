import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileProcessClient } from '../receivers/process/client.ts';
import { configSchema } from '../receivers/process/config.ts';
import { ProcessScraper } from '../receivers/process/scraper.ts';
import { scrapeOnce } from './support/settings.ts';

/**
 * The process receiver on this machine's real /proc, against what /proc and ps(1) say:
 * - a busy child that burns CPU and holds 64 MiB (CPU time, utilization, ranking, exit);
 * - a quiet child that holds 96 MiB and, when told, does known I/O (16 writes of 64 KiB, an
 *   fsync, 8 reads of 128 KiB), so that the I/O counters move by known amounts;
 * - a shell that forks short-lived processes while every process is scraped: processes that
 *   exit between the listing of /proc and the reading of their files are no error.
 */
const MiB = 1024 * 1024;
const BUSY_HELD = 64 * MiB;
const QUIET_HELD = 96 * MiB;
const WRITES = 16;
const WRITE_SIZE = 64 * 1024;
const READS = 8;
const READ_SIZE = 128 * 1024;
const marker = `inframeter-live-${String(process.pid)}-${String(Date.now())}`;
const dir = mkdtempSync(join(tmpdir(), 'inframeter-process-live-'));
const pidFile = join(dir, 'busy.pid');
const goFile = join(dir, 'go');
const doneDir = join(dir, 'done');
const PAGE = 4096;
const USER_HZ = 100;

/** One line: the command-line regex matches it without crossing a newline. */
const BUSY_SCRIPT = [
  `const held = Buffer.alloc(${String(BUSY_HELD)}, 1);`,
  "process.stdout.write('ready ' + held.length + '\\n');",
  'let x = 0;',
  'for (;;) { x = (x + held[x % held.length]) % 1000003; }',
].join(' ');

/**
 * Idle but for a poll of the go file (access(2): no read or write system call). The buffers are
 * allocated before `ready`, so the I/O phase allocates nothing and the counters move only by
 * what it does.
 */
const QUIET_SCRIPT = [
  "const fs = require('node:fs');",
  'const [, dir] = process.argv.slice(1);',
  `const held = Buffer.alloc(${String(QUIET_HELD)}, 1);`,
  `const chunk = Buffer.alloc(${String(WRITE_SIZE)}, 7);`,
  `const back = Buffer.alloc(${String(READ_SIZE)});`,
  'let done = false;',
  'const poll = setInterval(() => {',
  "  if (done || !fs.existsSync(dir + '/go')) return;",
  '  done = true;',
  '  clearInterval(poll);',
  "  const fd = fs.openSync(dir + '/data.bin', 'w+');",
  `  for (let i = 0; i < ${String(WRITES)}; i++) fs.writeSync(fd, chunk, 0, chunk.length, i * chunk.length);`,
  '  fs.fsyncSync(fd);',
  `  for (let i = 0; i < ${String(READS)}; i++) fs.readSync(fd, back, 0, back.length, i * back.length);`,
  '  fs.closeSync(fd);',
  "  fs.mkdirSync(dir + '/done');",
  '  setInterval(() => held[0]++, 60000);',
  '}, 5);',
  "process.stdout.write('ready ' + held.length + '\\n');",
].join(' ');

/** Eight worker threads in busy loops: on a shared machine, more CPU than any one-threaded loop. */
const CROWD_SCRIPT = [
  "const { Worker } = require('node:worker_threads');",
  "for (let i = 0; i < 8; i++) new Worker('let x = 0; for (;;) x = (x + 1) % 1000003;', { eval: true });",
  "process.stdout.write('ready\\n');",
].join(' ');

const children: ChildProcess[] = [];

async function start(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', () => {
      resolve();
    });
  });
  return child;
}

let busy: ChildProcess;
let busyPid: number;
let quiet: ChildProcess;
let quietPid: number;

beforeAll(async () => {
  busy = await start(['-e', BUSY_SCRIPT, marker]);
  busyPid = busy.pid ?? 0;
  writeFileSync(pidFile, `${String(busyPid)}\n`);
  quiet = await start(['-e', QUIET_SCRIPT, marker, dir]);
  quietPid = quiet.pid ?? 0;
});

afterAll(() => {
  for (const child of children)
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

/** The one value of a metric for a pid (and more attributes); fails unless there is exactly one. */
function valueOf(batch: ResourceMetrics, name: string, pid: number, attributes: Attributes = {}): number {
  const values = pointsOf(batch, name, { 'process.pid': pid, ...attributes });
  expect(values, `${name} of ${String(pid)} ${JSON.stringify(attributes)}`).toHaveLength(1);
  return values[0] ?? Number.NaN;
}

/** The data point attributes of a pid (from process.thread.count). */
function attributesOf(batch: ResourceMetrics, pid: number): Attributes | undefined {
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'process.thread.count') continue;
      const point = metric.dataPoints.find((p) => p.attributes['process.pid'] === pid);
      if (point !== undefined) return point.attributes;
    }
  }
  return undefined;
}

/** /proc/<pid>/stat fields after the command name: statFields(pid)[i] is field i + 3. */
function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function procIo(pid: number): Record<string, number> {
  const io: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${String(pid)}/io`, 'utf8')
    .trim()
    .split('\n')) {
    const [key = '', value = ''] = line.split(': ');
    io[key] = Number(value);
  }
  return io;
}

function procStatus(pid: number, key: string): string {
  const line = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}:`));
  return (line ?? '').slice(key.length + 1).trim();
}

function bootTime(): number {
  return Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
}

/** ps(1)'s view of a process, one field per key. */
function ps(pid: number, fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of fields) {
    out[field] = execFileSync('ps', ['-ww', '-o', `${field}=`, '-p', String(pid)], {
      encoding: 'utf8',
    }).trim();
  }
  return out;
}

function childCpuSeconds(batch: ResourceMetrics, pid: number): number {
  return (
    valueOf(batch, 'process.cpu.time', pid, { 'cpu.mode': 'user' }) +
    valueOf(batch, 'process.cpu.time', pid, { 'cpu.mode': 'system' })
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds (user + system) /proc/<pid>/stat shows `pid` has burnt. */
function procCpuSeconds(pid: number): number {
  const stat = statFields(pid);
  return (Number(stat[11]) + Number(stat[12])) / USER_HZ;
}

/** Until /proc shows `pid` has burnt `seconds` more CPU: longer on a loaded machine. */
async function burns(pid: number, seconds: number): Promise<void> {
  const target = procCpuSeconds(pid) + seconds;
  for (let waited = 0; procCpuSeconds(pid) < target; waited += 100) {
    if (waited > 60_000)
      throw new Error(`process ${String(pid)} did not burn ${String(seconds)} s of CPU in 60 s`);
    await sleep(100);
  }
}

/** Until /proc shows the busy child has burnt `seconds` more CPU. */
const busyChildBurns = (seconds: number): Promise<void> => burns(busyPid, seconds);

function createScraper(config: Record<string, unknown>): ProcessScraper {
  return new ProcessScraper({
    config: configSchema.parse(config),
    client: createFileProcessClient({ rootPath: '/' }),
  });
}

describe('process receiver on the real /proc', () => {
  it('reports the quiet child as /proc and ps do: memory, I/O, threads, fds, faults, start, identity', async () => {
    const scraper = createScraper({ include: { command_lines: [`.* ${marker} .*`] }, command_line: true });
    const first = await scrapeOnce(scraper, 'process');
    expect([...first.errors.keys()]).toEqual([]);
    // The quiet child only: the busy one's command line ends with the marker.
    expect(attributesOf(first.batch, busyPid)).toBeUndefined();
    const io1 = procIo(quietPid);
    const chars = (batch: ResourceMetrics, direction: string): number =>
      valueOf(batch, 'inframeter.process.io.chars', quietPid, { 'disk.io.direction': direction });
    const syscalls = (batch: ResourceMetrics, direction: string): number =>
      valueOf(batch, 'inframeter.process.io.syscalls', quietPid, { 'disk.io.direction': direction });
    const disk = (batch: ResourceMetrics, direction: string): number =>
      valueOf(batch, 'process.disk.io', quietPid, { 'disk.io.direction': direction });
    // Idle: what /proc says right after the scrape is what the scrape read (a few bytes of
    // slack for the runtime's own wake-ups, 8-byte eventfd reads and writes).
    expect(Math.abs(chars(first.batch, 'write') - (io1.wchar ?? 0))).toBeLessThanOrEqual(64);
    expect(Math.abs(chars(first.batch, 'read') - (io1.rchar ?? 0))).toBeLessThanOrEqual(64);
    expect(disk(first.batch, 'write')).toBe(io1.write_bytes);

    writeFileSync(goFile, '');
    for (let waited = 0; !existsSync(doneDir); waited += 10) {
      if (waited > 30_000) throw new Error('the quiet child did not do its I/O in 30 s');
      await sleep(10);
    }
    await sleep(50);
    // When the scrape began: ps and the clock are read later, by as much as a busy machine makes it.
    const scrapedAt = Date.now() / 1000;
    const second = await scrapeOnce(scraper, 'process');
    expect([...second.errors.keys()]).toEqual([]);
    const b = second.batch;

    // I/O: exactly what the child did, give or take the runtime's own eventfd wake-ups.
    const written = WRITES * WRITE_SIZE;
    const read = READS * READ_SIZE;
    expect(chars(b, 'write') - chars(first.batch, 'write')).toBeGreaterThanOrEqual(written);
    expect(chars(b, 'write') - chars(first.batch, 'write')).toBeLessThanOrEqual(written + 64);
    expect(chars(b, 'read') - chars(first.batch, 'read')).toBeGreaterThanOrEqual(read);
    expect(chars(b, 'read') - chars(first.batch, 'read')).toBeLessThanOrEqual(read + 64);
    expect(syscalls(b, 'write') - syscalls(first.batch, 'write')).toBeGreaterThanOrEqual(WRITES);
    expect(syscalls(b, 'write') - syscalls(first.batch, 'write')).toBeLessThanOrEqual(WRITES + 4);
    expect(syscalls(b, 'read') - syscalls(first.batch, 'read')).toBeGreaterThanOrEqual(READS);
    expect(syscalls(b, 'read') - syscalls(first.batch, 'read')).toBeLessThanOrEqual(READS + 4);
    // Pages dirtied in the page cache are storage writes (not on tmpfs, which has no storage).
    const TMPFS_MAGIC = 0x01021994;
    if (statfsSync(dir).type !== TMPFS_MAGIC) {
      expect(disk(b, 'write') - disk(first.batch, 'write')).toBeGreaterThanOrEqual(written);
      expect(disk(b, 'write') - disk(first.batch, 'write')).toBeLessThanOrEqual(written + 64 * 1024);
    }
    const io2 = procIo(quietPid);
    expect(disk(b, 'read')).toBe(io2.read_bytes);
    expect(disk(b, 'write')).toBe(io2.write_bytes);

    // Memory: the 96 MiB it holds are resident, in its data segment, and ps agrees.
    const statm = readFileSync(`/proc/${String(quietPid)}/statm`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    const rss = valueOf(b, 'process.memory.usage', quietPid);
    expect(rss).toBeGreaterThanOrEqual(QUIET_HELD);
    expect(Math.abs(rss - (statm[1] ?? 0) * PAGE) / rss).toBeLessThan(0.01);
    expect(valueOf(b, 'inframeter.process.memory.data', quietPid)).toBeGreaterThanOrEqual(QUIET_HELD);
    expect(
      Math.abs(valueOf(b, 'inframeter.process.memory.data', quietPid) - (statm[5] ?? 0) * PAGE),
    ).toBeLessThan(4 * MiB);
    expect(valueOf(b, 'inframeter.process.memory.text', quietPid)).toBe((statm[3] ?? 0) * PAGE);
    expect(
      Math.abs(valueOf(b, 'inframeter.process.memory.shared', quietPid) - (statm[2] ?? 0) * PAGE),
    ).toBeLessThan(MiB);
    expect(valueOf(b, 'inframeter.process.memory.swap', quietPid)).toBe(
      Number(procStatus(quietPid, 'VmSwap').replace(' kB', '')) * 1024,
    );
    const view = ps(quietPid, [
      'ppid',
      'user',
      'comm',
      'args',
      'nlwp',
      'rss',
      'vsz',
      'min_flt',
      'maj_flt',
      'etimes',
      'times',
    ]);
    expect(Math.abs(Number(view.rss) * 1024 - rss) / rss).toBeLessThan(0.01);
    const vsize = valueOf(b, 'process.memory.virtual', quietPid);
    expect(Math.abs(Number(view.vsz) * 1024 - vsize) / vsize).toBeLessThan(0.01);

    // Threads, descriptors, context switches, faults, CPU.
    expect(valueOf(b, 'process.thread.count', quietPid)).toBe(Number(view.nlwp));
    expect(valueOf(b, 'process.thread.count', quietPid)).toBe(Number(procStatus(quietPid, 'Threads')));
    expect(valueOf(b, 'process.unix.file_descriptor.count', quietPid)).toBe(
      readdirSync(`/proc/${String(quietPid)}/fd`).length,
    );
    const voluntary = valueOf(b, 'process.context_switches', quietPid, {
      'process.context_switch.type': 'voluntary',
    });
    expect(Number(procStatus(quietPid, 'voluntary_ctxt_switches')) - voluntary).toBeGreaterThanOrEqual(0);
    expect(Number(procStatus(quietPid, 'voluntary_ctxt_switches')) - voluntary).toBeLessThanOrEqual(20);
    expect(
      valueOf(b, 'process.context_switches', quietPid, { 'process.context_switch.type': 'involuntary' }),
    ).toBeLessThanOrEqual(Number(procStatus(quietPid, 'nonvoluntary_ctxt_switches')));
    const minor = valueOf(b, 'process.paging.faults', quietPid, { 'system.paging.fault.type': 'minor' });
    // Touching 96 MiB faulted in at least one page in every 4 KiB (fewer with huge pages).
    expect(minor).toBeGreaterThan(1000);
    expect(Math.abs(Number(view.min_flt) - minor)).toBeLessThanOrEqual(100);
    expect(valueOf(b, 'process.paging.faults', quietPid, { 'system.paging.fault.type': 'major' })).toBe(
      Number(view.maj_flt),
    );
    const fields = statFields(quietPid);
    const cpu = childCpuSeconds(b, quietPid);
    expect(Math.abs(cpu - (Number(fields[11]) + Number(fields[12])) / USER_HZ)).toBeLessThanOrEqual(0.05);
    // ps prints cumulative CPU in whole seconds.
    expect(Math.floor(cpu + 0.05)).toBeGreaterThanOrEqual(Number(view.times));
    expect(Math.floor(cpu)).toBeLessThanOrEqual(Number(view.times));

    // Start time: the kernel's start tick after boot, and ps's elapsed seconds.
    const startTime = valueOf(b, 'inframeter.process.start_time', quietPid);
    expect(startTime).toBeCloseTo(bootTime() + Number(fields[19]) / USER_HZ, 6);
    const uptime = valueOf(b, 'process.uptime', quietPid);
    const lag = Date.now() / 1000 - scrapedAt;
    // At most 2 s over: ps truncates etimes to whole seconds, and the boot time the start is
    // counted from (/proc/stat btime) is whole seconds too, which can add up to 1 s of uptime.
    expect(uptime).toBeLessThanOrEqual(Number(view.etimes) + 2);
    expect(uptime).toBeGreaterThanOrEqual(Number(view.etimes) - lag - 1.5);
    // Start time plus uptime is the moment of the scrape: after scrapedAt, before now.
    expect(startTime + uptime).toBeGreaterThanOrEqual(scrapedAt - 1.5);
    expect(startTime + uptime).toBeLessThanOrEqual(scrapedAt + lag + 1.5);

    // Identity, as ps names it.
    expect(attributesOf(b, quietPid)).toEqual({
      'process.pid': quietPid,
      'process.parent_pid': Number(view.ppid),
      // ps's comm is the main thread's name ("MainThread" for Node 24); the executable is node.
      'process.executable.name': basename(readlinkSync(`/proc/${String(quietPid)}/exe`)),
      'process.command': process.execPath,
      'process.owner': view.user,
      'process.command_line': view.args,
    });
    expect(Number(view.ppid)).toBe(process.pid);
  });

  it.each([
    ['a pid file', { include: { pid_files: [pidFile] } }],
    ['a command-line regex', { include: { command_lines: [`.* ${marker}`] }, command_line: true }],
  ])('follows the busy child selected by %s, matching /proc and ps', async (_how, config) => {
    const scraper = createScraper(config);
    const before = performance.now();
    const first = await scrapeOnce(scraper, 'process');
    expect([...first.errors.keys()]).toEqual([]);
    const cpu1 = childCpuSeconds(first.batch, busyPid);
    // Until /proc shows the child has burnt 0.3 s more: on a loaded machine that takes longer.
    const procCpuOf = (): number => procCpuSeconds(busyPid);
    for (let waited = 0; procCpuOf() < cpu1 + 0.3; waited += 100) {
      if (waited > 60_000) throw new Error('the busy child did not burn 0.3 s of CPU in 60 s');
      await sleep(100);
    }
    const second = await scrapeOnce(scraper, 'process');
    const wall = (performance.now() - before) / 1000;
    const procCpu = procCpuOf();
    const procRss = Number(readFileSync(`/proc/${String(busyPid)}/statm`, 'utf8').split(' ')[1]) * PAGE;
    expect([...second.errors.keys()]).toEqual([]);
    const cpu2 = childCpuSeconds(second.batch, busyPid);
    const rss = valueOf(second.batch, 'process.memory.usage', busyPid);

    expect(cpu2 - cpu1).toBeGreaterThan(0.1);
    expect(rss).toBeGreaterThanOrEqual(BUSY_HELD);
    // Read right after the scrape: the child burns at most one CPU in between.
    expect(Math.abs(procCpu - cpu2)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(procRss - rss) / procRss).toBeLessThan(0.05);
    const view = ps(busyPid, ['rss', 'times']);
    expect(Math.abs(Number(view.rss) * 1024 - rss) / rss).toBeLessThan(0.05);
    expect(Math.abs(Number(view.times) - cpu2)).toBeLessThanOrEqual(1.2);

    const utilization = pointsOf(second.batch, 'process.cpu.utilization', {
      'process.pid': busyPid,
      'cpu.mode': 'user',
    });
    expect(utilization).toHaveLength(1);
    // The user time burnt between the scrapes, over at most the wall time around both and
    // the CPUs the child may use (a busy machine gives it less CPU, not a wrong ratio); two
    // clock ticks of slack for the kernel's accounting.
    const user = (batch: ResourceMetrics): number =>
      valueOf(batch, 'process.cpu.time', busyPid, { 'cpu.mode': 'user' });
    const burnt = user(second.batch) - user(first.batch);
    expect(utilization[0]).toBeGreaterThan(0);
    expect(utilization[0]).toBeGreaterThanOrEqual((burnt - 2 / USER_HZ) / (wall * availableParallelism()));
    expect(utilization[0]).toBeLessThanOrEqual(1.05);
    expect(attributesOf(second.batch, busyPid)).toMatchObject({
      'process.executable.name': 'node',
      'process.owner': ps(busyPid, ['user']).user,
      'process.parent_pid': process.pid,
    });
  });

  it('finds the busy child among the top 20 by CPU and the quiet one by memory (the default)', async () => {
    const scraper = createScraper({});
    await scrapeOnce(scraper, 'process');
    await busyChildBurns(0.2);
    const { batch, errors } = await scrapeOnce(scraper, 'process');
    expect([...errors.keys()]).toEqual([]);
    expect(attributesOf(batch, busyPid)).toBeDefined();
    expect(attributesOf(batch, quietPid)).toBeDefined();
    // The top 5 of the whole machine: other work may share its CPUs, so the process ranked is
    // one with eight busy threads, which outranks any single-threaded busy loop beside it.
    const crowd = await start(['-e', CROWD_SCRIPT, marker]);
    const crowdPid = crowd.pid ?? 0;
    const ranked = createScraper({ top: { cpu: 5 } });
    await scrapeOnce(ranked, 'process');
    await burns(crowdPid, 1);
    const top = await scrapeOnce(ranked, 'process');
    crowd.kill('SIGKILL');
    expect(pointsOf(top.batch, 'process.thread.count', {})).toHaveLength(5);
    expect(attributesOf(top.batch, crowdPid)).toBeDefined();
  });

  it('selects by owner', async () => {
    const owner = ps(quietPid, ['user']).user;
    const { batch, errors } = await scrapeOnce(createScraper({ include: { owners: [owner] } }), 'process');
    expect([...errors.keys()]).toEqual([]);
    expect(attributesOf(batch, quietPid)?.['process.owner']).toBe(owner);
    expect(attributesOf(batch, busyPid)?.['process.owner']).toBe(owner);
    const none = await scrapeOnce(createScraper({ include: { owners: ['no-such-user-here'] } }), 'process');
    expect(pointsOf(none.batch, 'process.thread.count', {})).toHaveLength(0);
  });

  it('reports no error while processes come and go during scrapes of every process', async () => {
    const forker = spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' });
    children.push(forker);
    try {
      const scraper = createScraper({ top: { cpu: 100_000 } });
      const counts = new Set<number>();
      // At least 20 scrapes, and on until short-lived processes were seen (the count of
      // processes changed between scrapes): the forker's child is there in most scrapes.
      const deadline = Date.now() + 60_000;
      for (let i = 0; i < 20 || (counts.size < 2 && Date.now() < deadline); i++) {
        const { batch, errors } = await scrapeOnce(scraper, 'process');
        expect([...errors.keys()]).toEqual([]);
        counts.add(pointsOf(batch, 'inframeter.process.listed', {})[0] ?? 0);
      }
      expect(counts.size).toBeGreaterThan(1);
    } finally {
      forker.kill('SIGKILL');
    }
  }, 150_000);

  it('reports no error when the busy child exits between two scrapes', async () => {
    const scraper = createScraper({ include: { pid_files: [pidFile], command_lines: [`.* ${marker}`] } });
    const before = await scrapeOnce(scraper, 'process');
    expect(attributesOf(before.batch, busyPid)).toBeDefined();
    const exited = new Promise((resolve) => busy.once('exit', resolve));
    busy.kill('SIGKILL');
    await exited;
    // A fresh collection: the SDK's cumulative storage would repeat the child's last points.
    const after = await scrapeOnce(scraper, 'process');
    expect([...after.errors.keys()]).toEqual([]);
    expect(attributesOf(after.batch, busyPid)).toBeUndefined();
  });
});
