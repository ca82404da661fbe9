import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../kit/errors.ts';
import { renderMetricTable, TABLE_END, TABLE_START } from '../../kit/metadata.ts';
import { zodProblems } from '../../service/config.ts';
import { scrapeOnce } from '../../test/support/settings.ts';
import type { FsUsage, ProcfsClient } from './client.ts';
import { createProcfsClient } from './client.ts';
import { procfsConfigSchema } from './config.ts';
import { procfsMetadata } from './metadata.ts';
import { ProcfsScraper } from './scraper.ts';

const here = import.meta.dirname;
const fixtureRoot = (name: string): string => join(here, 'testdata', 'fixtures', name);
const FIXED_FS: FsUsage = {
  totalBytes: 100e9,
  freeBytes: 40e9,
  availableBytes: 35e9,
  inodes: 6_000_000,
  freeInodes: 5_000_000,
};

/** A client on a fixture tree whose filesystems all report FIXED_FS. */
function fixtureClient(name: string): ProcfsClient {
  const files = createProcfsClient(fixtureRoot(name));
  return { read: (path) => files.read(path), statfs: () => FIXED_FS };
}

interface Row {
  metric: string;
  attributes: Record<string, unknown>;
  value: unknown;
}

function rows(batch: ResourceMetrics): Row[] {
  return batch.scopeMetrics
    .flatMap((s) => s.metrics)
    .flatMap((m) =>
      m.dataPoints.map((p: DataPoint<unknown>) => ({
        metric: m.descriptor.name,
        attributes: { ...p.attributes },
        value: p.value,
      })),
    )
    .sort((a, b) =>
      `${a.metric}${JSON.stringify(a.attributes)}`.localeCompare(
        `${b.metric}${JSON.stringify(b.attributes)}`,
      ),
    );
}

describe('ProcfsScraper on fixture trees', () => {
  it('gives every point a frozen attribute set, the same object scrape after scrape', async () => {
    const scraper = new ProcfsScraper(fixtureClient('linux-6.18-recorded'), procfsConfigSchema.parse({}));
    const attributesOf = (batch: ResourceMetrics): object[] =>
      batch.scopeMetrics.flatMap((s) => s.metrics).flatMap((m) => m.dataPoints.map((p) => p.attributes));
    const { batch: first, runner } = await scrapeOnce(scraper);
    const { batch: second } = await runner.run(1000);
    const sets = attributesOf(first);
    expect(sets.length).toBeGreaterThan(100);
    for (const set of sets) expect(Object.isFrozen(set)).toBe(true);
    expect(attributesOf(second)).toEqual(sets);
    attributesOf(second).forEach((set, i) => {
      expect(set).toBe(sets[i]);
    });
    await runner.shutdown();
  });

  it('sums start at the boot time (/proc/stat btime), gauges at their time; bytes and counts are integers', async () => {
    const scraper = new ProcfsScraper(fixtureClient('linux-6.18-recorded'), procfsConfigSchema.parse({}));
    const { batch } = await scrapeOnce(scraper);
    const metrics = batch.scopeMetrics.flatMap((s) => s.metrics);
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    for (const name of [
      'system.cpu.time',
      'system.disk.io',
      'system.network.io',
      'system.paging.operations',
    ]) {
      const metric = byName.get(name);
      expect(metric?.dataPoints.length, name).toBeGreaterThan(0);
      for (const p of metric?.dataPoints ?? []) expect(p.startTime, name).toEqual([1795365679, 0]);
    }
    for (const p of byName.get('system.cpu.load_average.1m')?.dataPoints ?? [])
      expect(p.startTime).toEqual(p.endTime);
    const types = (names: string[]) => names.map((n) => byName.get(n)?.descriptor.valueType);
    expect(
      types(['system.disk.io', 'system.network.packet.count', 'system.memory.usage', 'system.paging.faults']),
    ).toEqual([ValueType.INT, ValueType.INT, ValueType.INT, ValueType.INT]);
    expect(types(['system.cpu.time', 'system.cpu.load_average.1m'])).toEqual([
      ValueType.DOUBLE,
      ValueType.DOUBLE,
    ]);
    expect(batch.scopeMetrics[0]?.scope.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each(['linux-6.18-recorded'])('%s matches its golden output', async (name) => {
    const scraper = new ProcfsScraper(fixtureClient(name), procfsConfigSchema.parse({}));
    const { batch, errors } = await scrapeOnce(scraper);
    expect([...errors.keys()]).toEqual([]);
    const golden = join(here, 'testdata', 'golden', `${name}.json`);
    const actual = rows(batch);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, `${JSON.stringify(actual, null, 1)}\n`);
    expect(actual).toEqual(JSON.parse(readFileSync(golden, 'utf8')));
  });

  it('reports exact values from the 4.14-format tree, and every failing source by path', async () => {
    const scraper = new ProcfsScraper(
      fixtureClient('linux-4.14-format'),
      procfsConfigSchema.parse({ root_path: '/host' }),
    );
    const { batch, errors } = await scrapeOnce(scraper);
    // Files this fixture lacks are reported by path; everything else is exported.
    expect([...errors.keys()].sort()).toEqual([
      '/host/proc/1/mounts',
      '/host/proc/loadavg',
      '/host/proc/uptime',
      '/host/proc/vmstat',
    ]);
    const r = rows(batch);
    const value = (metric: string, attributes: Record<string, unknown>): unknown =>
      r.find((x) => x.metric === metric && JSON.stringify(x.attributes) === JSON.stringify(attributes))
        ?.value;
    expect(value('system.cpu.time', { 'cpu.logical_number': 1, 'cpu.mode': 'user' })).toBe(11.23);
    expect(value('system.cpu.time', { 'cpu.logical_number': 0, 'cpu.mode': 'interrupt' })).toBe(1.27);
    expect(value('system.memory.limit', {})).toBe(1921988 * 1024);
    expect(value('system.memory.usage', { 'system.memory.state': 'used' })).toBe(
      (1921988 - 161808 - 128908 - 785052 - 122828) * 1024,
    );
    expect(value('system.disk.io', { 'system.device': 'sda', 'disk.io.direction': 'read' })).toBe(
      2718090 * 512,
    );
    expect(
      value('system.disk.operation_time', { 'system.device': 'sda', 'disk.io.direction': 'write' }),
    ).toBe(412.3);
    // sda1 is a partition and excluded by default; dm-0 is kept.
    expect(r.some((x) => x.attributes['system.device'] === 'sda1')).toBe(false);
    expect(value('system.disk.operations', { 'system.device': 'dm-0', 'disk.io.direction': 'read' })).toBe(
      12,
    );
    expect(r.some((x) => x.metric.startsWith('inframeter.procfs.disk.discard'))).toBe(false);
    expect(
      value('system.network.io', { 'network.interface.name': 'eth0', 'network.io.direction': 'transmit' }),
    ).toBe(214593542);
    expect(
      value('system.network.packet.dropped', {
        'network.interface.name': 'eth0',
        'network.io.direction': 'receive',
      }),
    ).toBe(3);
    expect(value('inframeter.procfs.context_switches', {})).toBe(1990473);
  });

  it('computes CPU utilization from the change between two scrapes', async () => {
    let stat = 'cpu0 100 0 100 800 0 0 0 0 0 0\n';
    const client: ProcfsClient = {
      read: (path) => {
        if (path === 'proc/stat') return stat;
        throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      },
      statfs: () => FIXED_FS,
    };
    const config = procfsConfigSchema.parse({ groups: { filesystem: { enabled: false } } });
    const { runner } = await scrapeOnce(new ProcfsScraper(client, config));
    stat = 'cpu0 130 0 110 860 0 0 0 0 0 0\n';
    const { batch } = await runner.run(1000);
    const utilization = rows(batch).filter((x) => x.metric === 'system.cpu.utilization' && x.value !== 0);
    expect(utilization.map((x) => [x.attributes['cpu.mode'], x.value])).toEqual([
      ['idle', 0.6],
      ['system', 0.1],
      ['user', 0.3],
    ]);
  });

  it('follows the mount table when it changes between scrapes, and keeps it while it does not', async () => {
    let mounts = '/dev/sda1 / ext4 rw 0 0\n';
    let reads = 0;
    const client: ProcfsClient = {
      read: (path) => {
        if (path !== 'proc/self/mounts')
          throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        reads += 1;
        return mounts;
      },
      statfs: () => FIXED_FS,
    };
    const mountpoints = (batch: ResourceMetrics): unknown[] => [
      ...new Set(
        rows(batch)
          .filter((x) => x.metric === 'system.filesystem.usage')
          .map((x) => x.attributes['system.filesystem.mountpoint']),
      ),
    ];
    const { runner, batch } = await scrapeOnce(new ProcfsScraper(client, procfsConfigSchema.parse({})));
    expect(mountpoints(batch)).toEqual(['/']);
    expect(mountpoints((await runner.run(1000)).batch)).toEqual(['/']);
    // The new table is filtered as the first was: a virtual filesystem and a second mount on
    // the same mount point are left out.
    mounts =
      '/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n/dev/sdb1 /data xfs rw 0 0\n/dev/sdc1 /data ext4 rw 0 0\n';
    expect(mountpoints((await runner.run(2000)).batch)).toEqual(['/', '/data']);
    mounts = 'truncated\n';
    const broken = await runner.run(3000);
    expect(broken.report.errors.get('/proc/self/mounts')?.message).toMatch(
      /mounts:1: expected at least 4 fields/,
    );
    expect(reads).toBe(4);
  });

  it('keeps a copy of the mount table read as bytes from a reused buffer, and decodes it as UTF-8', async () => {
    // As the real client does: every read overwrites the one buffer the bytes are a view of.
    const buffer = Buffer.alloc(4096);
    let mounts = '/dev/sda1 /a ext4 rw 0 0\n';
    let reads = 0;
    const client: ProcfsClient = {
      read: (path) => {
        throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      },
      readBytes: (path) => {
        if (path !== 'proc/self/mounts')
          throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        reads += 1;
        buffer.fill(0);
        return buffer.subarray(0, buffer.write(mounts, 'utf8'));
      },
      statfs: () => FIXED_FS,
    };
    const mountpoints = (batch: ResourceMetrics): unknown[] => [
      ...new Set(
        rows(batch)
          .filter((x) => x.metric === 'system.filesystem.usage')
          .map((x) => x.attributes['system.filesystem.mountpoint']),
      ),
    ];
    const { runner, batch } = await scrapeOnce(new ProcfsScraper(client, procfsConfigSchema.parse({})));
    expect(mountpoints(batch)).toEqual(['/a']);
    expect(mountpoints((await runner.run(1000)).batch)).toEqual(['/a']);
    // The same length, another mount point: seen although the buffer is the same object.
    mounts = '/dev/sda1 /b ext4 rw 0 0\n';
    expect(mountpoints((await runner.run(2000)).batch)).toEqual(['/b']);
    mounts = '/dev/sda1 /mnt/caf\u00e9\\040bar ext4 rw 0 0\n';
    expect(mountpoints((await runner.run(3000)).batch)).toEqual(['/mnt/caf\u00e9 bar']);
    expect(reads).toBe(4);
  });

  it('exports the rest when a file is malformed', async () => {
    const good = fixtureClient('linux-6.18-recorded');
    const client: ProcfsClient = {
      read: (p) => (p === 'proc/meminfo' ? 'MemTotal 12 kB' : good.read(p)),
      statfs: (m) => good.statfs(m),
    };
    const { batch, errors } = await scrapeOnce(new ProcfsScraper(client, procfsConfigSchema.parse({})));
    expect([...errors.entries()].map(([k, e]) => [k, e.message])).toEqual([
      ['/proc/meminfo', '/proc/meminfo:1: expected "Key: value [kB]", got "MemTotal 12 kB"'],
    ]);
    const names = new Set(rows(batch).map((x) => x.metric));
    expect(names.has('system.memory.usage')).toBe(false);
    expect(names.has('system.cpu.time')).toBe(true);
    expect(names.has('system.disk.io')).toBe(true);
  });

  it("reads the host's interfaces through PID 1, and its own namespace only when PID 1 is hidden", async () => {
    const good = fixtureClient('linux-6.18-recorded');
    const own = 'Inter-| head\n face | head\n    lo: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n';
    const interfaces = async (hostVisible: boolean): Promise<unknown[]> => {
      const client: ProcfsClient = {
        read: (p) => {
          if (p === 'proc/net/dev') return own;
          if (p === 'proc/1/net/dev' && !hostVisible) {
            throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
          }
          return good.read(p);
        },
        statfs: (m) => good.statfs(m),
      };
      const { batch, errors } = await scrapeOnce(new ProcfsScraper(client, procfsConfigSchema.parse({})));
      expect(errors.size).toBe(0);
      return [
        ...new Set(
          rows(batch)
            .filter((x) => x.metric === 'system.network.io')
            .map((x) => x.attributes['network.interface.name']),
        ),
      ].sort();
    };
    expect(await interfaces(true)).toEqual(['eth0', 'ifb0', 'ifb1', 'lo']);
    expect(await interfaces(false)).toEqual(['lo']);
  });

  it('switches groups off', async () => {
    const config = procfsConfigSchema.parse({
      groups: { cpu: { enabled: false }, disk: { enabled: false }, network: { include: ['lo'] } },
    });
    const { batch } = await scrapeOnce(new ProcfsScraper(fixtureClient('linux-6.18-recorded'), config));
    const r = rows(batch);
    expect(r.some((x) => x.metric.startsWith('system.cpu.time') || x.metric.startsWith('system.disk.'))).toBe(
      false,
    );
    expect(
      new Set(
        r.filter((x) => x.metric === 'system.network.io').map((x) => x.attributes['network.interface.name']),
      ),
    ).toEqual(new Set(['lo']));
  });
});

describe('procfs metadata', () => {
  it('lists exactly the metrics a full scrape emits, both ways', async () => {
    const { batch } = await scrapeOnce(
      new ProcfsScraper(fixtureClient('linux-6.18-recorded'), procfsConfigSchema.parse({})),
    );
    const { batch: second } = await scrapeOnce(
      new ProcfsScraper(fixtureClient('linux-6.18-recorded'), procfsConfigSchema.parse({})),
    );
    const emitted = new Set([...rows(batch), ...rows(second)].map((x) => x.metric));
    // Utilization needs two scrapes of changing counters: the unit test above covers it.
    emitted.add('system.cpu.utilization');
    expect([...emitted].sort()).toEqual(procfsMetadata.metrics.map((m) => m.name).sort());
  });

  it('README metric table is current (`npm run docs` rewrites it)', () => {
    const readme = readFileSync(join(here, 'README.md'), 'utf8');
    const section = readme
      .slice(readme.indexOf(TABLE_START) + TABLE_START.length, readme.indexOf(TABLE_END))
      .trim();
    expect(section).toBe(renderMetricTable(procfsMetadata));
  });
});

describe('procfs config', () => {
  it.each([
    ['bad-regex.yaml', ['receivers.procfs.groups.disk.include[0]: invalid regular expression "sd[a-"']],
    [
      'bad-unknown-group.yaml',
      [
        'receivers.procfs.groups.gpu: unknown metric group "gpu"; known groups: cpu, processes, load, uptime, memory, paging, disk, network, filesystem',
      ],
    ],
    [
      'bad-unknown-metric.yaml',
      [
        'receivers.procfs.metrics.system.cpu.temperature: unknown metric "system.cpu.temperature"; known metrics: system.cpu.time, ',
      ],
    ],
    [
      'bad-interval.yaml',
      ['receivers.procfs.root_path: Too small', 'receivers.procfs.collection_interval: expected a duration'],
    ],
  ])('%s names the key', (file, expected) => {
    const raw: unknown = parseYaml(readFileSync(join(here, 'testdata', 'config', file), 'utf8'));
    const result = procfsConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (result.success) return;
    const problems = zodProblems(result.error, ['receivers', 'procfs']);
    for (const e of expected) expect(problems.some((p) => p.startsWith(e))).toBe(true);
    expect(new ConfigError(problems).code).toBe('ERR_CONFIG');
  });
});
