import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../kit/errors.ts';
import { parseBlkioStat } from './parse/blkio.ts';
import { parseFlatKeyed } from './parse/flat-keyed.ts';
import { parseIoStat } from './parse/io-stat.ts';
import { parseCgroupMounts, resolveHierarchies } from './parse/mounts.ts';
import { parseNamespaceLink } from './parse/namespace.ts';
import { parsePressure } from './parse/pressure.ts';
import { parseFirstPid } from './parse/procs.ts';
import { parseLimit, parseSingleValue } from './parse/single-value.ts';
import { parseUeventDevname } from './parse/uevent.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'fixtures');
const DOCKER = 'docker/3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c';
const recorded = (path: string): string =>
  readFileSync(join(fixtures, 'hybrid-recorded', 'sys/fs/cgroup', path), 'latin1');
const written = (path: string): string =>
  readFileSync(join(fixtures, 'v2-systemd', 'sys/fs/cgroup', path), 'latin1');

describe('parseFlatKeyed', () => {
  it('reads a recorded v1 memory.stat, keeping every key', () => {
    const stat = parseFlatKeyed(recorded(`memory/${DOCKER}/memory.stat`), 'memory.stat');
    expect(stat.size).toBe(42);
    expect(stat.get('total_rss')).toBe(57769984);
    expect(stat.get('total_cache')).toBe(1089536);
    expect(stat.get('total_inactive_file')).toBe(0);
    expect(stat.get('pgmajfault')).toBe(2);
    expect(stat.get('hierarchical_memory_limit')).toBe(268435456);
  });

  it('reads a recorded v1 cpu.stat and cpuacct.stat, and the unified cpu.stat of a hybrid host', () => {
    expect([...parseFlatKeyed(recorded(`cpu/${DOCKER}/cpu.stat`), 'cpu.stat')]).toEqual([
      ['nr_periods', 18],
      ['nr_throttled', 16],
      ['throttled_time', 793107897],
      ['nr_bursts', 0],
      ['burst_time', 0],
    ]);
    expect([...parseFlatKeyed(recorded(`cpuacct/${DOCKER}/cpuacct.stat`), 'cpuacct.stat')]).toEqual([
      ['user', 79],
      ['system', 3],
    ]);
    expect(parseFlatKeyed(recorded(`unified/${DOCKER}/cpu.stat`), 'cpu.stat').get('usage_usec')).toBe(827326);
  });

  it('reads a v2 memory.stat and memory.events', () => {
    const dir = 'system.slice/docker-e0a6b5c4d3f2e1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6.scope';
    const stat = parseFlatKeyed(written(`${dir}/memory.stat`), 'memory.stat');
    expect(stat.get('anon')).toBe(67108864);
    expect(stat.get('inactive_file')).toBe(10063872);
    expect([...parseFlatKeyed(written(`${dir}/memory.events`), 'memory.events')]).toEqual([
      ['low', 0],
      ['high', 0],
      ['max', 3],
      ['oom', 0],
      ['oom_kill', 0],
      ['oom_group_kill', 0],
    ]);
  });

  it('gives an empty map for an empty file', () => {
    expect(parseFlatKeyed('', 'x').size).toBe(0);
  });

  it('rejects a truncated last line and a value that is not a number, with file and line', () => {
    expect(() => parseFlatKeyed('anon 12\nfile 3\nfile_map', '/m/memory.stat')).toThrow(
      new ParseError('/m/memory.stat', 3, 'expected "key value", got "file_map"'),
    );
    expect(() => parseFlatKeyed('anon 12\nfile x3\n', '/m/memory.stat')).toThrow(
      /memory.stat:2: value of file is not an integer/,
    );
  });
});

describe('parseSingleValue and parseLimit', () => {
  it('reads recorded single values', () => {
    expect(parseSingleValue(recorded(`cpuacct/${DOCKER}/cpuacct.usage`), 'cpuacct.usage')).toBe(827326327);
    expect(parseSingleValue(recorded(`pids/${DOCKER}/pids.current`), 'pids.current')).toBe(1);
  });

  it('reads limits: a number, v2 "max", and the v1 unlimited value', () => {
    expect(parseLimit(recorded(`memory/${DOCKER}/memory.limit_in_bytes`), 'l')).toBe(268435456);
    expect(parseLimit(recorded('memory/memory.limit_in_bytes'), 'l')).toBeUndefined();
    expect(parseLimit('max\n', 'memory.max')).toBeUndefined();
    expect(parseLimit('536870912\n', 'memory.max')).toBe(536870912);
  });

  it('rejects empty, truncated and non-numeric content', () => {
    expect(() => parseSingleValue('', 'memory.current')).toThrow(ParseError);
    expect(() => parseSingleValue('12 34\n', 'memory.current')).toThrow(/expected one integer/);
    expect(() => parseLimit('maximum\n', 'memory.max')).toThrow(/memory.max:1/);
  });
});

describe('parsePressure', () => {
  it('reads recorded PSI files', () => {
    expect(parsePressure(recorded(`unified/${DOCKER}/cpu.pressure`), 'cpu.pressure')).toEqual({
      some: { avg10: 0, avg60: 0, avg300: 0, totalUsec: 793935 },
      full: { avg10: 0, avg60: 0, avg300: 0, totalUsec: 793929 },
    });
  });

  it('reads fractions and a file without a full line (cpu.pressure before 5.13)', () => {
    expect(parsePressure('some avg10=1.52 avg60=0.98 avg300=0.61 total=123456789\n', 'p')).toEqual({
      some: { avg10: 1.52, avg60: 0.98, avg300: 0.61, totalUsec: 123456789 },
    });
  });

  it('reads every two-decimal share and a total beyond 15 digits as Number() does', () => {
    for (let hundredths = 0; hundredths <= 10000; hundredths++) {
      const share = `${String(Math.floor(hundredths / 100))}.${String(hundredths % 100).padStart(2, '0')}`;
      const { some } = parsePressure(`some avg10=${share} avg60=${share} avg300=0.10 total=1\n`, 'p');
      if (some.avg10 !== Number(share) || some.avg60 !== Number(share))
        throw new Error(`${share} read as ${String(some.avg10)}`);
    }
    const total = '123456789012345678';
    expect(parsePressure(`some avg10=0.00 avg60=0.00 avg300=0.00 total=${total}\n`, 'p').some.totalUsec).toBe(
      Number(total),
    );
    expect(
      parsePressure('some avg10=12.3456789012345678 avg60=0.00 avg300=0.00 total=0\n', 'p').some.avg10,
    ).toBe(Number('12.3456789012345678'));
  });

  it('rejects an empty file, a truncated line and a non-number', () => {
    expect(() => parsePressure('', 'cpu.pressure')).toThrow(/no "some" line/);
    expect(() => parsePressure('some avg10=1. avg60=0.00 avg300=0.00 total=1\n', 'p')).toThrow(/p:1/);
    expect(() => parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n', 'p')).toThrow(/p:1/);
    expect(() => parsePressure('some avg10=0.00 avg60=0.00 avg3', 'cpu.pressure')).toThrow(/cpu.pressure:1/);
    expect(() => parsePressure('some avg10=x avg60=0.00 avg300=0.00 total=1\n', 'cpu.pressure')).toThrow(
      ParseError,
    );
  });
});

describe('parseIoStat', () => {
  it('reads a v2 io.stat with two devices', () => {
    expect(parseIoStat(written('io.stat'), 'io.stat')).toEqual([
      {
        major: 259,
        minor: 0,
        rbytes: 21474836480,
        wbytes: 42949672960,
        rios: 1234567,
        wios: 2345678,
        dbytes: 1073741824,
        dios: 1024,
      },
      { major: 8, minor: 0, rbytes: 1048576, wbytes: 0, rios: 256, wios: 0, dbytes: 0, dios: 0 },
    ]);
  });

  it('ignores unknown keys (io.cost adds cost.*) and reads missing ones as 0', () => {
    expect(parseIoStat('8:16 rbytes=1 wbytes=2 rios=3 wios=4 cost.vrate=100.00 cost.usage=5\n', 's')).toEqual(
      [{ major: 8, minor: 16, rbytes: 1, wbytes: 2, rios: 3, wios: 4, dbytes: 0, dios: 0 }],
    );
    expect(parseIoStat('', 'io.stat')).toEqual([]);
  });

  it('rejects a line without a device and a non-numeric value', () => {
    expect(() => parseIoStat('rbytes=1\n', 'io.stat')).toThrow(/io.stat:1: expected "MAJ:MIN/);
    expect(() => parseIoStat('8:0 rbytes=1 wbytes=\n', 'io.stat')).toThrow(
      /value of wbytes is not an integer/,
    );
  });
});

describe('parseBlkioStat', () => {
  it('reads recorded blkio.throttle files', () => {
    expect(parseBlkioStat(recorded(`blkio/${DOCKER}/blkio.throttle.io_service_bytes`), 'b')).toEqual([
      {
        major: 254,
        minor: 0,
        read: 40960,
        write: 8396800,
        sync: 16826368,
        async: 0,
        discard: 8388608,
        total: 16826368,
      },
    ]);
    expect(parseBlkioStat(recorded(`blkio/${DOCKER}/blkio.throttle.io_serviced`), 'b')).toEqual([
      { major: 254, minor: 0, read: 5, write: 19, sync: 25, async: 0, discard: 1, total: 25 },
    ]);
  });

  it('reads a cgroup without I/O ("Total 0" only) and one without Discard lines (before 4.19)', () => {
    expect(parseBlkioStat('Total 0\n', 'b')).toEqual([]);
    expect(
      parseBlkioStat(
        '8:0 Read 4096\n8:0 Write 0\n8:0 Sync 0\n8:0 Async 4096\n8:0 Total 4096\nTotal 4096\n',
        'b',
      ),
    ).toEqual([{ major: 8, minor: 0, read: 4096, write: 0, sync: 0, async: 4096, discard: 0, total: 4096 }]);
  });

  it('rejects a truncated line and a non-numeric value', () => {
    expect(() => parseBlkioStat('8:0 Read 1\n8:0 Wri', 'blkio')).toThrow(
      /blkio:2: expected "MAJ:MIN Operation value"/,
    );
    expect(() => parseBlkioStat('8:0 Read x\n', 'blkio')).toThrow(/value of Read is not an integer/);
  });
});

describe('parseCgroupMounts and resolveHierarchies', () => {
  const mounts = (layout: string): string => readFileSync(join(fixtures, layout, 'proc/1/mounts'), 'latin1');

  it('finds the hybrid layout of this machine (v1 controllers, cgroup2 at unified)', () => {
    const parsed = parseCgroupMounts(mounts('hybrid-recorded'), 'mounts');
    expect(parsed).toContainEqual({
      mountPoint: '/sys/fs/cgroup/systemd',
      version: 1,
      controllers: [],
      name: 'systemd',
    });
    const h = resolveHierarchies(parsed);
    expect(h?.layout).toBe('hybrid');
    expect(h?.unified).toBe('/sys/fs/cgroup/unified');
    expect(h?.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu');
    expect(h?.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpuacct');
  });

  it('finds v1 with comounted cpu,cpuacct, and v2', () => {
    const v1 = resolveHierarchies(parseCgroupMounts(mounts('v1-cgroupfs'), 'mounts'));
    expect(v1?.layout).toBe('v1');
    expect(v1?.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(v1?.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(v1?.v1.get('net_prio')).toBe('/sys/fs/cgroup/net_cls,net_prio');
    const v2 = resolveHierarchies(parseCgroupMounts(mounts('v2-systemd'), 'mounts'));
    expect(v2).toEqual({ layout: 'v2', unified: '/sys/fs/cgroup', v1: new Map() });
  });

  it('prefers /sys/fs/cgroup mounts, undoes octal escapes, and finds nothing in an empty table', () => {
    const text = 'cgroup2 /run/my\\040cg cgroup2 rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n';
    expect(parseCgroupMounts(text, 'm')[0]?.mountPoint).toBe('/run/my cg');
    expect(resolveHierarchies(parseCgroupMounts(text, 'm'))?.unified).toBe('/sys/fs/cgroup');
    expect(resolveHierarchies(parseCgroupMounts('', 'm'))).toBeUndefined();
  });

  it('rejects a truncated line', () => {
    expect(() => parseCgroupMounts('cgroup2 /sys/fs/cgroup\n', '/proc/1/mounts')).toThrow(
      /\/proc\/1\/mounts:1/,
    );
  });
});

describe('small files', () => {
  it('reads the first pid, a namespace link and a device name', () => {
    expect(parseFirstPid('4102\n4150\n')).toBe(4102);
    expect(parseFirstPid('')).toBeUndefined();
    expect(parseFirstPid('41')).toBe(41);
    expect(parseNamespaceLink('net:[4026531833]')).toBe(4026531833);
    expect(parseNamespaceLink('net:[')).toBeUndefined();
    expect(
      parseUeventDevname(
        readFileSync(join(fixtures, 'hybrid-recorded/sys/dev/block/254:0/uevent'), 'latin1'),
      ),
    ).toBe('vda');
    expect(parseUeventDevname('MAJOR=8\n')).toBeUndefined();
  });
});
