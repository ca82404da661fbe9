import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../kit/errors.ts';
import { parseDiskstats } from './parse/diskstats.ts';
import { parseLoadavg } from './parse/loadavg.ts';
import { parseMeminfo } from './parse/meminfo.ts';
import { parseMounts } from './parse/mounts.ts';
import { parseNetDev } from '../../kit/procfs/net-dev.ts';
import { parseStat } from '../../kit/procfs/stat.ts';
import { parseUptime } from './parse/uptime.ts';
import { ByteNames } from './parse/byte-names.ts';
import { fieldEnd, skipBlanks, unsignedAt } from '../../kit/procfs/bytes.ts';
import { parseVmstat } from './parse/vmstat.ts';

const fixture = (name: string, file: string): string =>
  readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', name, 'proc', file), 'utf8');

describe('parseStat', () => {
  it('reads the recorded 6.18 file', () => {
    const stat = parseStat(fixture('linux-6.18-recorded', 'stat'));
    expect(stat.cpus.map((c) => c.cpu)).toEqual([0, 1]);
    expect(stat.total?.ticks).toEqual({
      user: 120055,
      nice: 0,
      system: 43546,
      idle: 1952130,
      iowait: 1524,
      irq: 0,
      softirq: 374,
      steal: 188,
      guest: 0,
      guest_nice: 0,
    });
    expect(stat.cpus[1]?.ticks.user).toBe(61656);
    expect(stat.bootTime).toBeGreaterThan(1_700_000_000);
    expect(stat.contextSwitches).toBeGreaterThan(0);
  });
  it('reads the 4.14-format file', () => {
    const stat = parseStat(fixture('linux-4.14-format', 'stat'));
    expect(stat.cpus[0]?.ticks).toEqual({
      user: 1132,
      nice: 34,
      system: 1441,
      idle: 11311718,
      iowait: 3675,
      irq: 127,
      softirq: 438,
      steal: 0,
      guest: 0,
      guest_nice: 0,
    });
    expect(stat).toMatchObject({
      contextSwitches: 1990473,
      interrupts: 114930548,
      softInterrupts: 183433,
      forks: 2915,
      procsRunning: 1,
      procsBlocked: 0,
      bootTime: 1062191376,
    });
  });
  it('keeps the modes an old kernel prints (no steal, guest)', () => {
    expect(parseStat('cpu0 1 2 3 4 5 6 7\n').cpus[0]?.ticks).toEqual({
      user: 1,
      nice: 2,
      system: 3,
      idle: 4,
      iowait: 5,
      irq: 6,
      softirq: 7,
    });
  });
  it.each([
    ['empty input', '', /proc\/stat:1: no cpu lines/],
    ['a truncated cpu line', 'cpu0 1 2\n', /proc\/stat:1: truncated cpu0 line/],
    ['a field that is not a number', 'cpu 1 2 3 x 5\n', /proc\/stat:1: cpu idle: expected a number, got "x"/],
    ['a bad ctxt', 'cpu 1 2 3 4\nctxt many\n', /proc\/stat:2: ctxt: expected a number/],
  ])('rejects %s', (_case, text, message) => {
    expect(() => parseStat(text)).toThrow(ParseError);
    expect(() => parseStat(text)).toThrow(message);
  });
});

describe('parseDiskstats', () => {
  it('reads the 20-field form (5.5+, recorded)', () => {
    const disks = parseDiskstats(fixture('linux-6.18-recorded', 'diskstats'));
    const vda = disks.find((d) => d.name === 'vda');
    expect(vda?.flushes).toBeDefined();
    expect(vda?.discards).toBeDefined();
    expect(disks.filter((d) => d.name.startsWith('loop'))).toHaveLength(8);
  });
  it('reads the 14-field form (before 4.18)', () => {
    const [sda] = parseDiskstats(fixture('linux-4.14-format', 'diskstats'));
    expect(sda).toEqual({
      major: 8,
      minor: 0,
      name: 'sda',
      readsCompleted: 48921,
      readsMerged: 1032,
      sectorsRead: 2718090,
      readTimeMs: 31456,
      writesCompleted: 103455,
      writesMerged: 88721,
      sectorsWritten: 4920856,
      writeTimeMs: 412300,
      inFlight: 0,
      ioTimeMs: 98764,
      weightedIoTimeMs: 443680,
    });
  });
  it('reads the 18-field form (4.18–5.4)', () => {
    const [nvme] = parseDiskstats(fixture('linux-5.4-format', 'diskstats'));
    expect(nvme?.name).toBe('nvme0n1');
    expect(nvme?.discards).toEqual({ completed: 5012, merged: 0, sectors: 4139016, timeMs: 1132 });
    expect(nvme?.flushes).toBeUndefined();
  });
  it('accepts empty input as no devices', () => {
    expect(parseDiskstats('')).toEqual([]);
  });
  it.each([
    ['a truncated line', '8 0 sda 1 2 3\n', /diskstats:1: expected 14, 18 or 20 fields, got 6/],
    [
      'a field that is not a number',
      '8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n',
      /diskstats:1: weighted ms doing I\/O: expected a number, got "x"/,
    ],
  ])('rejects %s', (_case, text, message) => {
    expect(() => parseDiskstats(text)).toThrow(message);
  });
});

describe('parseNetDev', () => {
  it('reads every counter of each interface', () => {
    const [eth0, lo] = parseNetDev(fixture('linux-4.14-format', 'net/dev'));
    expect(eth0).toEqual({
      name: 'eth0',
      rx: {
        bytes: 1936238157,
        packets: 2035617,
        errs: 0,
        drop: 3,
        fifo: 0,
        frame: 0,
        compressed: 0,
        multicast: 1024,
      },
      tx: {
        bytes: 214593542,
        packets: 1267420,
        errs: 0,
        drop: 0,
        fifo: 0,
        colls: 0,
        carrier: 0,
        compressed: 0,
      },
    });
    expect(lo?.rx.bytes).toBe(31405);
  });
  it('reads the recorded file', () => {
    expect(parseNetDev(fixture('linux-6.18-recorded', '1/net/dev')).map((i) => i.name)).toContain('lo');
  });
  it.each([
    ['empty input', '', /not a net\/dev table/],
    [
      'a truncated line',
      'Inter-|\n face |\n  eth0: 1 2 3\n',
      /net\/dev:3: truncated line for eth0: 3 of 16 counters/,
    ],
    [
      'a field that is not a number',
      'Inter-|\n face |\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 z\n',
      /net\/dev:3: eth0 tx compressed: expected a number, got "z"/,
    ],
  ])('rejects %s', (_case, text, message) => {
    expect(() => parseNetDev(text)).toThrow(message);
  });
});

describe('byte fields', () => {
  const bytes = Buffer.from(' \t pgfault  123 \nx\n', 'latin1');
  it('skips blanks within a line, not its newline', () => {
    expect(skipBlanks(bytes, 0)).toBe(3);
    expect(skipBlanks(bytes, 15)).toBe(16); // the space before the newline
    expect(skipBlanks(bytes, 16)).toBe(16);
    expect(skipBlanks(bytes, bytes.length)).toBe(bytes.length);
  });
  it('ends a field at whitespace or at the end', () => {
    expect(fieldEnd(bytes, 3)).toBe(10);
    expect(fieldEnd(bytes, 12)).toBe(15);
    expect(fieldEnd(bytes, 17)).toBe(18);
    expect(fieldEnd(Buffer.from('42'), 0)).toBe(2);
  });
  it('reads unsigned integers of up to 15 digits exactly, NaN otherwise', () => {
    const at = (text: string): number => unsignedAt(Buffer.from(text, 'latin1'), 0, text.length);
    expect(at('123')).toBe(123);
    expect(at('0')).toBe(0);
    expect(at('999999999999999')).toBe(999_999_999_999_999);
    expect(at('1234567890123456')).toBeNaN();
    expect(at('')).toBeNaN();
    expect(at('12a')).toBeNaN();
    expect(at('-1')).toBeNaN();
    expect(unsignedAt(bytes, 12, 15)).toBe(123);
  });
});

describe('parseMeminfo', () => {
  it('converts kB to bytes and keeps page counts', () => {
    const mem = parseMeminfo(fixture('linux-4.14-format', 'meminfo'));
    expect(mem.get('MemTotal')).toBe(1921988 * 1024);
    expect(mem.get('MemAvailable')).toBe(992348 * 1024);
    expect(mem.get('HugePages_Total')).toBe(0);
    expect(mem.get('SReclaimable')).toBe(122828 * 1024);
    expect(mem.has('KReclaimable')).toBe(false);
  });
  it('reads the recorded 6.18 file, which has fields 4.14 lacks', () => {
    expect(parseMeminfo(fixture('linux-6.18-recorded', 'meminfo')).has('KReclaimable')).toBe(true);
  });
  it.each([
    ['empty input', '', /meminfo:1: no MemTotal/],
    ['a truncated line', 'MemTotal: 1 kB\nMemFree\n', /meminfo:2: expected "Key: value \[kB\]"/],
    [
      'a field that is not a number',
      'MemTotal: lots kB\n',
      /meminfo:1: MemTotal: expected a number, got "lots"/,
    ],
    [
      'a unit other than kB',
      'MemTotal: 12 MB\n',
      /meminfo:1: expected "Key: value \[kB\]", got "MemTotal: 12 MB"/,
    ],
    ['a line without a key', ': 12 kB\n', /meminfo:1: expected "Key: value \[kB\]"/],
    ['a field after the unit', 'MemTotal: 12 kB x\n', /meminfo:1: expected "Key: value \[kB\]"/],
  ])('rejects %s', (_case, text, message) => {
    expect(() => parseMeminfo(text)).toThrow(message);
  });
});

describe('small files', () => {
  it('parses loadavg, uptime, vmstat and mounts', () => {
    expect(parseLoadavg('0.52 0.58 0.59 2/412 12345\n')).toEqual({ one: 0.52, five: 0.58, fifteen: 0.59 });
    expect(parseUptime('10761.75 20011.12\n')).toBe(10761.75);
    expect(parseVmstat('pgfault 10\npgmajfault 2\n')).toEqual(
      new Map([
        ['pgfault', 10],
        ['pgmajfault', 2],
      ]),
    );
    expect(parseMounts('/dev/sda1 /mnt/my\\040disk ext4 ro,relatime 0 0\n')).toEqual([
      { device: '/dev/sda1', mountpoint: '/mnt/my disk', type: 'ext4', mode: 'ro' },
    ]);
    expect(parseVmstat(fixture('linux-6.18-recorded', 'vmstat')).get('pgreuse')).toBeGreaterThan(0);
  });
  it('reads values too long for digit-by-digit reading, blank lines and tabs as Number does', () => {
    expect(parseVmstat('\nnr_big\t12345678901234567\n\npgfault 7\n')).toEqual(
      new Map([
        ['nr_big', Number('12345678901234567')],
        ['pgfault', 7],
      ]),
    );
    const mem = parseMeminfo('MemTotal:\t1234567890123456 kB\n\nHugePages_Total:       0\n');
    expect(mem.get('MemTotal')).toBe(1234567890123456 * 1024);
    expect(mem.get('HugePages_Total')).toBe(0);
  });
  it('reads the named meminfo keys from bytes, and checks every line', () => {
    const names = new ByteNames(['MemTotal', 'Active(anon)', 'HugePages_Total']);
    const bytes = Buffer.from(
      'MemTotal:  10 kB\nMemFree: 4 kB\nActive(anon):\t2 kB  \n\nHugePages_Total:   3\n',
    );
    expect(parseMeminfo(bytes, names)).toEqual(
      new Map([
        ['MemTotal', 10240],
        ['Active(anon)', 2048],
        ['HugePages_Total', 3],
      ]),
    );
    const recorded = Buffer.from(fixture('linux-6.18-recorded', 'meminfo'));
    const all = parseMeminfo(recorded);
    expect(parseMeminfo(recorded, names)).toEqual(
      new Map([
        ['MemTotal', all.get('MemTotal')],
        ['Active(anon)', all.get('Active(anon)')],
        ['HugePages_Total', all.get('HugePages_Total')],
      ]),
    );
    expect(() => parseMeminfo(Buffer.from('MemTotal: 1 kB\nMemFree 2 kB\n'), names)).toThrow(
      /meminfo:2: expected "Key: value \[kB\]", got "MemFree 2 kB"/,
    );
    expect(() => parseMeminfo(Buffer.from('MemFree: 2 kB\n'), names)).toThrow(/no MemTotal/);
  });
  it('reads the named vmstat counters from bytes, and checks every line', () => {
    const names = new ByteNames(['pgfault', 'pgmajfault', 'nr_dirty', 'absent']);
    const bytes = Buffer.from(
      'nr_free_pages 5\npgfault 10\npgfaulted 1\n\n  pgmajfault\t2  \nnr_dirty 12345678901234567\n',
    );
    expect([...parseVmstat(bytes, names)]).toEqual([
      ['pgfault', 10],
      ['pgmajfault', 2],
      ['nr_dirty', Number('12345678901234567')],
    ]);
    // A view into a larger buffer: only its own bytes are read.
    const within = Buffer.from('xxpgfault 3\nyy').subarray(2, 12);
    expect([...parseVmstat(within, names)]).toEqual([['pgfault', 3]]);
    const recorded = Buffer.from(fixture('linux-6.18-recorded', 'vmstat'));
    const all = parseVmstat(recorded);
    expect(parseVmstat(recorded, names)).toEqual(
      new Map([
        ['pgfault', all.get('pgfault')],
        ['pgmajfault', all.get('pgmajfault')],
        ['nr_dirty', all.get('nr_dirty')],
      ]),
    );
    expect(all.get('pgfault')).toBeGreaterThan(0);
    expect(() => parseVmstat(Buffer.from('pgfault 1\nnr_other\n'), names)).toThrow(
      /vmstat:2: expected "name value", got "nr_other"/,
    );
    expect(() => parseVmstat(Buffer.from('pgfault 1x\n'), names)).toThrow(
      /vmstat:1: pgfault: expected a number/,
    );
  });
  it.each([
    ['loadavg empty', () => parseLoadavg(''), /loadavg:1/],
    ['loadavg truncated', () => parseLoadavg('0.5 0.4'), /loadavg:1: expected three load averages/],
    ['loadavg not a number', () => parseLoadavg('a b c'), /loadavg:1/],
    ['uptime empty', () => parseUptime(''), /uptime:1/],
    ['uptime not a number', () => parseUptime('soon 1'), /uptime:1: expected seconds/],
    ['vmstat truncated', () => parseVmstat('pgfault\n'), /vmstat:1: expected "name value"/],
    ['vmstat not a number', () => parseVmstat('pgfault x\n'), /vmstat:1: pgfault: expected a number/],
    [
      'vmstat a third field',
      () => parseVmstat('pgfault 1 2\n'),
      /vmstat:1: expected "name value", got "pgfault 1 2"/,
    ],
    [
      'mounts truncated',
      () => parseMounts('/dev/sda1 /mnt\n'),
      /mounts:1: expected at least 4 fields, got 2/,
    ],
  ])('rejects %s', (_case, run, message) => {
    expect(run).toThrow(message);
  });
});
