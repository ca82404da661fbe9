import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { scrapeOnce } from '../../test/support/settings.ts';
import { createFileProcessClient } from './client.ts';
import type { ProcessClient } from './client.ts';
import { configSchema } from './config.ts';
import { PROCESS_METRIC_NAMES } from './metadata.ts';
import type { Clock } from './scraper.ts';
import { ProcessScraper } from './scraper.ts';
import { createCountingClient, createOverridingClient, systemError } from './testdata/clients.ts';
import type { GoldenMetric } from './testdata/golden.ts';
import { readGolden, toGolden } from './testdata/golden.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'fixtures');
const golden = join(import.meta.dirname, 'testdata', 'golden');
const synthetic = join(fixtures, 'synthetic');
const recorded = join(fixtures, 'recorded');

/** 1,000 s after the synthetic tree's boot time (btime 1700000000). */
const SYNTHETIC_NOW = 1_700_001_000_000;
/** 9,000 s after the recorded tree's boot time (btime 1795365679), after its processes started. */
const RECORDED_NOW = 1_795_374_679_000;

/** A clock that stands still until `advance` moves it. */
function createManualClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  let monotonic = 1_000;
  return {
    now: () => now,
    monotonic: () => monotonic,
    advance(ms) {
      now += ms;
      monotonic += ms;
    },
  };
}

function createScraper(
  config: Record<string, unknown>,
  options: { root?: string; client?: ProcessClient; clock?: Clock } = {},
): ProcessScraper {
  const root = options.root ?? synthetic;
  return new ProcessScraper({
    config: configSchema.parse({ root_path: root, ...config }),
    client: options.client ?? createFileProcessClient({ rootPath: root, pageSize: 4096 }),
    clock: options.clock ?? createManualClock(SYNTHETIC_NOW),
  });
}

function pidsOf(metrics: GoldenMetric[], name = 'process.thread.count'): number[] {
  const metric = metrics.find((m) => m.name === name);
  return (metric?.points ?? []).map((p) => Number(p.attributes['process.pid'])).sort((a, b) => a - b);
}

function valueOf(metrics: GoldenMetric[], name: string, attributes: Attributes): number | undefined {
  const metric = metrics.find((m) => m.name === name);
  const point = metric?.points.find((p) =>
    Object.entries(attributes).every(([key, value]) => p.attributes[key] === value),
  );
  return point?.value;
}

async function scrapeMetrics(
  scraper: ProcessScraper,
): Promise<{ metrics: GoldenMetric[]; errors: string[] }> {
  const { batch, errors } = await scrapeOnce(scraper, 'process');
  return { metrics: toGolden(batch), errors: [...errors.keys()] };
}

describe('process scraper on the synthetic tree', () => {
  it('matches the golden output over two scrapes, and reports the malformed stat of pid 700', async () => {
    const clock = createManualClock(SYNTHETIC_NOW);
    const scraper = createScraper({ command_line: true }, { clock });
    const first = await scrapeOnce(scraper, 'process');
    expect([...first.errors.keys()]).toEqual(['/proc/700/stat']);
    expect(first.errors.get('/proc/700/stat')?.message).toBe(
      '/proc/<pid>/stat:1: field 10 is not a number: "x"',
    );
    clock.advance(10_000);
    const { batch, errors } = await scrapeOnce(scraper, 'process');
    expect([...errors.keys()]).toEqual(['/proc/700/stat']);
    const actual = toGolden(batch);
    expect(actual).toEqual(readGolden(join(golden, 'synthetic.json'), actual));
  });

  it('emits every metric of the catalogue and nothing else', async () => {
    const clock = createManualClock(SYNTHETIC_NOW);
    const scraper = createScraper({}, { clock });
    await scrapeOnce(scraper, 'process');
    clock.advance(10_000);
    const { batch } = await scrapeOnce(scraper, 'process');
    expect(toGolden(batch).map((m) => m.name)).toEqual([...PROCESS_METRIC_NAMES].sort());
  });

  it('selects the top 20 by CPU and by memory when nothing is configured: every valid process here', async () => {
    const { metrics } = await scrapeMetrics(createScraper({}));
    expect(pidsOf(metrics)).toEqual([1, 300, 301, 400, 500, 600]);
    expect(valueOf(metrics, 'inframeter.process.listed', {})).toBe(6);
  });

  it('ranks by CPU rate since start on the first scrape and by resident memory', async () => {
    expect(pidsOf((await scrapeMetrics(createScraper({ top: { cpu: 1 } }))).metrics)).toEqual([301]);
    expect(pidsOf((await scrapeMetrics(createScraper({ top: { cpu: 2 } }))).metrics)).toEqual([301, 400]);
    expect(pidsOf((await scrapeMetrics(createScraper({ top: { memory: 1 } }))).metrics)).toEqual([400]);
    expect(pidsOf((await scrapeMetrics(createScraper({ top: { memory: 2, cpu: 1 } }))).metrics)).toEqual([
      301, 400,
    ]);
  });

  it('ranks by CPU used since the previous scrape from the second scrape on', async () => {
    const clock = createManualClock(SYNTHETIC_NOW);
    let second = false;
    const client = createOverridingClient(
      createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
      (pid, file, inner) => {
        const text = inner();
        // pid 1 burns 2 s of CPU in the interval; 301 (the all-time busiest) none.
        if (second && pid === 1 && file === 'stat' && typeof text === 'string')
          return text.replace(' 150 80 900 400 ', ' 350 80 900 400 ');
        return text;
      },
    );
    const scraper = createScraper({ top: { cpu: 1 } }, { client, clock });
    await scrapeOnce(scraper, 'process');
    second = true;
    clock.advance(10_000);
    // A fresh collection: the SDK's cumulative storage would also repeat series of the first.
    const metrics = toGolden((await scrapeOnce(scraper, 'process')).batch);
    expect(pidsOf(metrics)).toEqual([1]);
    // 2 s of user time in 10 s on 4 allowed CPUs.
    expect(valueOf(metrics, 'process.cpu.utilization', { 'process.pid': 1, 'cpu.mode': 'user' })).toBeCloseTo(
      0.05,
      10,
    );
    expect(valueOf(metrics, 'process.cpu.utilization', { 'process.pid': 1, 'cpu.mode': 'system' })).toBe(0);
    expect(valueOf(metrics, 'process.cpu.time', { 'process.pid': 1, 'cpu.mode': 'user' })).toBe(3.5);
  });

  it.each([
    ['names', { names: ['nginx'] }, [300, 301]],
    ['names of kernel threads (their command name)', { names: ['kworker/.*'] }, [500]],
    ['command lines', { command_lines: ['.*batch\\.py.*'] }, [600]],
    ['a cgroup glob within a segment', { cgroups: ['/system.slice/*'] }, [300]],
    [
      'a cgroup glob across segments (a pod)',
      { cgroups: ['/kubepods.slice/**/kubepods-*-pod1f2e3d4c_*.slice/**'] },
      [301],
    ],
    ['a cgroup v1 path', { cgroups: ['/docker/*'] }, [400]],
    ['a container id prefix', { container_ids: ['0123456789ab'] }, [400]],
    [
      'a full container id',
      { container_ids: ['a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90'] },
      [301],
    ],
    ['owner names', { owners: ['www-data|alice'] }, [301, 400]],
    ['an owner without a passwd entry (by uid)', { owners: ['4242'] }, [600]],
    ['a pid file', { pid_files: ['/run/web.pid'] }, [300]],
    ['a missing pid file', { pid_files: ['/run/none.pid'] }, []],
    ['two rules (union)', { names: ['systemd'], pid_files: ['/run/web.pid'] }, [1, 300]],
  ])('selects by %s', async (_what, include, pids) => {
    const { metrics, errors } = await scrapeMetrics(createScraper({ include }));
    expect(pidsOf(metrics)).toEqual(pids);
    expect(errors).toEqual(['/proc/700/stat']);
  });

  it('adds the top N to the included processes', async () => {
    const { metrics } = await scrapeMetrics(
      createScraper({ include: { names: ['nginx'] }, top: { memory: 1 } }),
    );
    expect(pidsOf(metrics)).toEqual([300, 301, 400]);
  });

  it('names owners from passwd, by number when unknown, and executables from the exe link', async () => {
    const { metrics } = await scrapeMetrics(createScraper({ command_line: true }));
    const attributes = metrics
      .find((m) => m.name === 'process.thread.count')
      ?.points.map((p) => p.attributes);
    expect(attributes).toEqual([
      {
        'process.pid': 1,
        'process.parent_pid': 0,
        'process.executable.name': 'systemd',
        'process.command': '/sbin/init',
        'process.owner': 'root',
        'process.command_line': '/sbin/init splash',
      },
      {
        'process.pid': 300,
        'process.parent_pid': 1,
        'process.executable.name': 'nginx',
        'process.command': 'nginx: master process /usr/sbin/nginx',
        'process.owner': 'root',
        'process.command_line': 'nginx: master process /usr/sbin/nginx',
      },
      {
        'process.pid': 301,
        'process.parent_pid': 300,
        'process.executable.name': 'nginx',
        'process.command': 'nginx: worker process',
        'process.owner': 'www-data',
        'process.command_line': 'nginx: worker process',
      },
      {
        'process.pid': 400,
        'process.parent_pid': 1,
        'process.executable.name': 'app',
        'process.command': '/opt/app/bin/app',
        'process.owner': 'alice',
        'process.command_line': '/opt/app/bin/app --port 8080',
      },
      {
        'process.pid': 500,
        'process.parent_pid': 2,
        'process.executable.name': 'kworker/0:1',
        'process.command': 'kworker/0:1',
        'process.owner': 'root',
        'process.command_line': '',
      },
      {
        'process.pid': 600,
        'process.parent_pid': 1,
        'process.executable.name': 'python3.11',
        'process.command': 'python3',
        'process.owner': '4242',
        'process.command_line': 'python3 /srv/batch.py --input x',
      },
    ]);
  });

  it('gives exact values of one process', async () => {
    const { metrics } = await scrapeMetrics(createScraper({ include: { pid_files: ['/run/web.pid'] } }));
    const p = { 'process.pid': 300 };
    expect(valueOf(metrics, 'process.cpu.time', { ...p, 'cpu.mode': 'user' })).toBe(0.2);
    expect(valueOf(metrics, 'process.cpu.time', { ...p, 'cpu.mode': 'system' })).toBe(0.1);
    expect(valueOf(metrics, 'process.memory.usage', p)).toBe(2000 * 4096);
    expect(valueOf(metrics, 'process.memory.virtual', p)).toBe(60_000_000);
    expect(valueOf(metrics, 'inframeter.process.memory.shared', p)).toBe(1500 * 4096);
    expect(valueOf(metrics, 'inframeter.process.memory.text', p)).toBe(250 * 4096);
    expect(valueOf(metrics, 'inframeter.process.memory.data', p)).toBe(400 * 4096);
    expect(valueOf(metrics, 'inframeter.process.memory.swap', p)).toBe(12 * 1024);
    expect(valueOf(metrics, 'inframeter.process.io.chars', { ...p, 'disk.io.direction': 'read' })).toBe(5000);
    expect(valueOf(metrics, 'inframeter.process.io.syscalls', { ...p, 'disk.io.direction': 'write' })).toBe(
      6,
    );
    expect(valueOf(metrics, 'process.unix.file_descriptor.count', p)).toBe(8);
    expect(
      valueOf(metrics, 'process.context_switches', { ...p, 'process.context_switch.type': 'voluntary' }),
    ).toBe(40);
    expect(valueOf(metrics, 'process.paging.faults', { ...p, 'system.paging.fault.type': 'major' })).toBe(3);
    // Started 500 s after boot, scraped 1,000 s after boot.
    expect(valueOf(metrics, 'process.uptime', p)).toBe(500);
    expect(valueOf(metrics, 'inframeter.process.start_time', p)).toBe(1_700_000_500);
  });

  it('omits what a process does not have: io (400), the exe link and swap (kernel thread 500), wait (600)', async () => {
    const { metrics } = await scrapeMetrics(createScraper({}));
    expect(pidsOf(metrics, 'process.disk.io')).toEqual([1, 1, 300, 300, 301, 301, 500, 500, 600, 600]);
    expect(pidsOf(metrics, 'inframeter.process.memory.swap')).toEqual([1, 300, 301, 400, 600]);
    expect(valueOf(metrics, 'process.cpu.time', { 'process.pid': 600, 'cpu.mode': 'wait' })).toBeUndefined();
    expect(valueOf(metrics, 'process.cpu.time', { 'process.pid': 301, 'cpu.mode': 'wait' })).toBe(2.5);
  });

  it('counts files denied for lack of privileges and keeps the rest of the process', async () => {
    const client = createOverridingClient(
      createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
      (pid, file, inner) => {
        if (pid === 301 && (file === 'io' || file === 'fd' || file === 'exe'))
          throw systemError('EACCES', `/proc/301/${file}`);
        return inner();
      },
    );
    const { metrics, errors } = await scrapeMetrics(createScraper({}, { client }));
    expect(errors).toEqual(['/proc/700/stat']);
    for (const file of ['io', 'fd', 'exe'])
      expect(valueOf(metrics, 'inframeter.process.access_denied', { 'inframeter.process.file': file })).toBe(
        1,
      );
    expect(
      valueOf(metrics, 'process.thread.count', { 'process.pid': 301, 'process.executable.name': 'nginx' }),
    ).toBe(1);
    expect(pidsOf(metrics, 'process.unix.file_descriptor.count')).toEqual([1, 300, 400, 500, 600]);
  });

  it('gives a process new attributes when its parent changes (reparented to a subreaper)', async () => {
    let reparented = false;
    const client = createOverridingClient(
      createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
      (pid, file, inner) => {
        const text = inner();
        if (!reparented || pid !== 301 || file !== 'stat' || typeof text !== 'string') return text;
        return text.replace(/^(\d+ \(.*\) \S+) \d+ /, '$1 42 ');
      },
    );
    const scraper = createScraper({}, { client });
    const parentOf = (metrics: GoldenMetric[]) =>
      metrics
        .find((m) => m.name === 'process.thread.count')
        ?.points.find((p) => p.attributes['process.pid'] === 301)?.attributes['process.parent_pid'];
    const first = await scrapeMetrics(scraper);
    reparented = true;
    const second = await scrapeMetrics(scraper);
    expect([parentOf(first.metrics), parentOf(second.metrics)]).toEqual([300, 42]);
    expect(pidsOf(second.metrics)).toEqual(pidsOf(first.metrics));
  });

  it('leaves out processes that exit between the listing and the reading, without an error', async () => {
    const client = createOverridingClient(
      createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
      (pid, file, inner) => {
        if (pid === 999) return undefined; // listed, gone before its stat was read
        if (pid === 300 && file === 'status') return undefined; // gone after its stat was read
        if (pid === 301 && file === 'io') return undefined; // gone after its status was read
        return inner();
      },
      [999],
    );
    const { metrics, errors } = await scrapeMetrics(createScraper({}, { client }));
    expect(errors).toEqual(['/proc/700/stat']);
    expect(pidsOf(metrics)).toEqual([1, 301, 400, 500, 600]);
    expect(pidsOf(metrics, 'process.disk.io')).toEqual([1, 1, 500, 500, 600, 600]);
  });

  it('reads command lines, cgroups and exe links once per process, again when a pid is reused', async () => {
    let restarted = false;
    const counting = createCountingClient(
      createOverridingClient(
        createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
        (pid, file, inner) => {
          const text = inner();
          if (restarted && pid === 600 && file === 'stat' && typeof text === 'string')
            return text.replace(' 90000 30000000 ', ' 95000 30000000 ');
          return text;
        },
      ),
    );
    const clock = createManualClock(SYNTHETIC_NOW);
    // Rules that match nothing, so that every process is tested against each of them.
    const scraper = createScraper(
      { include: { names: ['none'], command_lines: ['none'], cgroups: ['/none'] } },
      { client: counting.client, clock },
    );
    const reads = (): number[] => ['exe', 'cmdline', 'cgroup'].map((file) => counting.counts.get(file) ?? 0);
    const { runner } = await scrapeOnce(scraper, 'process');
    expect(reads()).toEqual([6, 6, 6]);
    clock.advance(10_000);
    await runner.run(10_000);
    expect(reads()).toEqual([6, 6, 6]);
    expect(counting.counts.get('stat')).toBe(14);
    restarted = true;
    clock.advance(10_000);
    await runner.run(10_000);
    expect(reads()).toEqual([7, 7, 7]);
  });

  it('reads status once a scrape when it selects by owner', async () => {
    const counting = createCountingClient(createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }));
    await scrapeOnce(
      createScraper({ include: { owners: ['alice'] } }, { client: counting.client }),
      'process',
    );
    // Every valid process's status to match its owner, none read twice for the selected one.
    expect(counting.counts.get('status')).toBe(6);
    expect(counting.counts.get('statm')).toBe(1);
  });

  it('reads exe and cmdline again when a process runs execve (same pid and start time, new comm)', async () => {
    let exec = false;
    const client = createOverridingClient(
      createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }),
      (pid, file, inner) => {
        if (exec && pid === 600 && file === 'stat') return (inner() as string).replace('(batch)', '(sh)');
        if (exec && pid === 600 && file === 'cmdline') return '/bin/sh\0-c\0true\0';
        if (exec && pid === 600 && file === 'exe') return 'dash';
        return inner();
      },
    );
    const clock = createManualClock(SYNTHETIC_NOW);
    const scraper = createScraper({ top: { memory: 10 } }, { client, clock });
    const attributesOf = (metrics: GoldenMetric[]): Attributes | undefined =>
      metrics
        .find((m) => m.name === 'process.thread.count')
        ?.points.find((p) => p.attributes['process.pid'] === 600)?.attributes;
    const before = attributesOf((await scrapeMetrics(scraper)).metrics);
    expect(before?.['process.executable.name']).toBe('python3.11');
    expect(before?.['process.command']).toBe('python3');
    exec = true;
    clock.advance(10_000);
    const after = attributesOf((await scrapeMetrics(scraper)).metrics);
    expect(after?.['process.executable.name']).toBe('dash');
    expect(after?.['process.command']).toBe('/bin/sh');
  });

  it('reads only stat for processes that are not selected', async () => {
    const counting = createCountingClient(createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }));
    await scrapeOnce(createScraper({ top: { memory: 1 } }, { client: counting.client }), 'process');
    expect(Object.fromEntries(counting.counts)).toEqual({
      stat: 7,
      status: 1,
      statm: 1,
      io: 1,
      fd: 1,
      exe: 1,
      cmdline: 1,
      passwd: 1,
    });
  });

  it('reads no io or fd/ when their metrics are off', async () => {
    const counting = createCountingClient(createFileProcessClient({ rootPath: synthetic, pageSize: 4096 }));
    const metrics = Object.fromEntries(
      [
        'process.disk.io',
        'inframeter.process.io.syscalls',
        'inframeter.process.io.chars',
        'process.unix.file_descriptor.count',
      ].map((name) => [name, { enabled: false }]),
    );
    const { batch } = await scrapeOnce(createScraper({ metrics }, { client: counting.client }), 'process');
    expect(counting.counts.get('io')).toBeUndefined();
    expect(counting.counts.get('fd')).toBeUndefined();
    expect(toGolden(batch).map((m) => m.name)).not.toContain('process.disk.io');
  });

  it('fails the scrape when /proc cannot be listed', async () => {
    await expect(
      scrapeOnce(createScraper({}, { root: join(fixtures, 'no-such-root') }), 'process'),
    ).rejects.toThrow(/ENOENT/);
  });
});

describe('process scraper on the recorded tree', () => {
  it('matches the golden output', async () => {
    const scraper = createScraper(
      { command_line: true },
      { root: recorded, clock: createManualClock(RECORDED_NOW) },
    );
    const { batch, errors } = await scrapeOnce(scraper, 'process');
    expect([...errors.keys()]).toEqual([]);
    const actual = toGolden(batch);
    expect(actual).toEqual(readGolden(join(golden, 'recorded.json'), actual));
    expect(pidsOf(actual)).toEqual([2, 11402, 11403, 11405, 11407]);
    expect(valueOf(actual, 'process.thread.count', { 'process.pid': 11403 })).toBe(7);
    expect(valueOf(actual, 'process.unix.file_descriptor.count', { 'process.pid': 11403 })).toBe(22);
  });
});
