import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../kit/errors.ts';
import { containerIdOf, parseCgroup } from '../../kit/procfs/cgroup.ts';
import { parseCmdline, parseCommand } from './parse/cmdline.ts';
import { parsePidIo } from './parse/io.ts';
import { parsePasswd } from './parse/passwd.ts';
import { parsePidStat } from '../../kit/procfs/pid-stat.ts';
import { parseStatm } from '../../kit/procfs/statm.ts';
import { countCpuList, parseStatus } from './parse/status.ts';

const recorded = join(import.meta.dirname, 'testdata', 'fixtures', 'recorded');
const synthetic = join(import.meta.dirname, 'testdata', 'fixtures', 'synthetic');
const read = (root: string, path: string): string => readFileSync(join(root, path), 'utf8');

describe('parsePidStat', () => {
  it('reads a recorded process whose command name has spaces and parentheses', () => {
    expect(parsePidStat(read(recorded, 'proc/11403/stat'))).toEqual({
      pid: 11403,
      comm: 'x) (y z',
      state: 'S',
      ppid: 1,
      minflt: 2786,
      majflt: 0,
      utime: 2,
      stime: 0,
      cutime: 0,
      cstime: 0,
      numThreads: 7,
      starttime: 850613,
      vsize: 1305776128,
      rss: 10668,
      delayacctBlkioTicks: 0,
    });
  });

  it('reads a kernel thread and a zombie', () => {
    expect(parsePidStat(read(recorded, 'proc/2/stat'))).toMatchObject({
      pid: 2,
      comm: 'kthreadd',
      ppid: 0,
      vsize: 0,
      rss: 0,
      starttime: 25,
    });
    expect(parsePidStat(read(recorded, 'proc/11407/stat'))).toMatchObject({
      pid: 11407,
      comm: 'sleep',
      state: 'Z',
      ppid: 11405,
      minflt: 96,
    });
  });

  it('leaves the block I/O delay undefined when the line stops before field 42', () => {
    const stat = parsePidStat(read(synthetic, 'proc/600/stat'));
    expect(stat.delayacctBlkioTicks).toBeUndefined();
    expect(stat).toMatchObject({ pid: 600, comm: 'batch', utime: 100, stime: 50, numThreads: 2, rss: 1500 });
  });

  it('takes the last ")" as the end of the command name', () => {
    const stat = parsePidStat(read(synthetic, 'proc/400/stat'));
    expect(stat).toMatchObject({ comm: 'my) (app x', state: 'R', utime: 300, delayacctBlkioTicks: 30 });
  });

  it('rejects empty input, a truncated line and a field that is not a number', () => {
    expect(() => parsePidStat('')).toThrow(ParseError);
    expect(() => parsePidStat('42 (sh) S 1 42 42 0 -1 4194560 10 0 0')).toThrow(/truncated/);
    expect(() => parsePidStat(read(synthetic, 'proc/700/stat'))).toThrow(
      '/proc/<pid>/stat:1: field 10 is not a number: "x"',
    );
    expect(() => parsePidStat('x (sh) S 1')).toThrow(/pid is not a number/);
  });
});

describe('parseStatm', () => {
  it('reads a recorded file', () => {
    expect(parseStatm(read(recorded, 'proc/11403/statm'))).toEqual({
      size: 318793,
      resident: 10698,
      shared: 8652,
      text: 10939,
      data: 143378,
    });
    expect(parseStatm(read(recorded, 'proc/2/statm'))).toEqual({
      size: 0,
      resident: 0,
      shared: 0,
      text: 0,
      data: 0,
    });
  });

  it('rejects empty input, a truncated line and a field that is not a number', () => {
    expect(() => parseStatm('')).toThrow(ParseError);
    expect(() => parseStatm('1175 520 359')).toThrow(/expected 7 fields/);
    expect(() => parseStatm('1175 520 x 193 0 194 0')).toThrow(
      '/proc/<pid>/statm:1: field 3 is not a number: "x"',
    );
  });
});

describe('parseStatus', () => {
  it('reads a recorded file', () => {
    expect(parseStatus(read(recorded, 'proc/11403/status'))).toEqual({
      realUid: 0,
      effectiveUid: 0,
      swapBytes: 0,
      voluntaryCtxtSwitches: 4,
      nonvoluntaryCtxtSwitches: 5,
      cpusAllowed: 2,
    });
  });

  it('has no swap for a kernel thread', () => {
    expect(parseStatus(read(recorded, 'proc/2/status'))).toEqual({
      realUid: 0,
      effectiveUid: 0,
      swapBytes: undefined,
      voluntaryCtxtSwitches: 75,
      nonvoluntaryCtxtSwitches: 0,
      cpusAllowed: 2,
    });
  });

  it('converts VmSwap from kB', () => {
    expect(parseStatus(read(synthetic, 'proc/400/status'))).toMatchObject({
      realUid: 1000,
      swapBytes: 2048 * 1024,
    });
  });

  it('rejects empty input, a truncated line and a field that is not a number', () => {
    expect(() => parseStatus('')).toThrow('/proc/<pid>/status:1: no Uid: line');
    expect(() => parseStatus('Name:\tsh\nUid:\t0\t0\n')).toThrow('/proc/<pid>/status:2: Uid: expected 4 ids');
    expect(() => parseStatus('Uid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\tmany\n')).toThrow(
      '/proc/<pid>/status:2: voluntary_ctxt_switches is not a number: "many"',
    );
    expect(() => parseStatus('Uid:\t0\t0\t0\t0\nVmSwap:\t12 MB\n')).toThrow(/VmSwap: expected "N kB"/);
    expect(() => parseStatus('Uid:\t1000\tx\t1000\t1000\n')).toThrow(
      '/proc/<pid>/status:1: Uid is not a number: "x"',
    );
    expect(() => parseStatus('Uid:\t0\t0\t0\t0\t0\n')).toThrow('/proc/<pid>/status:1: Uid: expected 4 ids');
    // A list that is not one fails every time it is read, the second time from the cache of lists.
    for (let i = 0; i < 2; i++)
      expect(() => parseStatus('Uid:\t0\t0\t0\t0\nCpus_allowed_list:\t0-x\n')).toThrow(
        '/proc/<pid>/status:2: Cpus_allowed_list: not a CPU list: "0-x"',
      );
    expect(parseStatus('Uid:\t0\t0\t0\t0\nCpus_allowed_list:\t0-3,8\n').cpusAllowed).toBe(5);
    expect(parseStatus('Uid:\t0\t0\t0\t0\nCpus_allowed_list:\t0-3,8\n').cpusAllowed).toBe(5);
  });

  it('counts CPU lists', () => {
    expect(countCpuList('0-1')).toBe(2);
    expect(countCpuList('0-3,8,10-11')).toBe(7);
    expect(countCpuList('5')).toBe(1);
    expect(countCpuList('3-1')).toBeUndefined();
    expect(countCpuList('')).toBeUndefined();
  });
});

describe('parsePidIo', () => {
  it('reads a recorded file', () => {
    expect(parsePidIo(read(recorded, 'proc/11403/io'))).toEqual({
      rchar: 30179,
      wchar: 8,
      syscr: 30,
      syscw: 2,
      readBytes: 0,
      writeBytes: 0,
    });
  });

  it('rejects empty input, a truncated line and a field that is not a number', () => {
    expect(() => parsePidIo('')).toThrow(/missing rchar, wchar, syscr, syscw, read_bytes, write_bytes/);
    expect(() => parsePidIo('rchar: 1\nwchar: 2\nsyscr')).toThrow('/proc/<pid>/io:3: expected "key: value"');
    expect(() => parsePidIo('rchar: 1\nwchar: two\n')).toThrow(
      '/proc/<pid>/io:2: wchar is not a number: "two"',
    );
  });
});

describe('parseCgroup', () => {
  it('reads a recorded cgroup v1 hybrid file', () => {
    const memberships = parseCgroup(read(recorded, 'proc/11403/cgroup'));
    expect(memberships).toHaveLength(10);
    expect(memberships[0]).toEqual({ hierarchyId: 9, controllers: ['name=systemd'], path: '/' });
    expect(memberships[9]).toEqual({ hierarchyId: 0, controllers: [], path: '/' });
  });

  it('splits controller lists and keeps colons inside the path', () => {
    expect(parseCgroup('11:cpu,cpuacct:/docker/abc\n0::/a:b\n')).toEqual([
      { hierarchyId: 11, controllers: ['cpu', 'cpuacct'], path: '/docker/abc' },
      { hierarchyId: 0, controllers: [], path: '/a:b' },
    ]);
  });

  it('finds the container id of runtime cgroup paths', () => {
    const id = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    expect(containerIdOf(`/docker/${id}`)).toBe(id);
    expect(containerIdOf(`/system.slice/docker-${id}.scope`)).toBe(id);
    expect(containerIdOf(`/kubepods.slice/kubepods-pod1_2.slice/cri-containerd-${id}.scope`)).toBe(id);
    expect(containerIdOf('/user.slice/user-0.slice')).toBeUndefined();
  });

  it('accepts empty input and rejects a truncated line and a hierarchy id that is not a number', () => {
    expect(parseCgroup('')).toEqual([]);
    expect(() => parseCgroup('0::/\n4:memory\n')).toThrow(
      '/proc/<pid>/cgroup:2: expected "id:controllers:path"',
    );
    expect(() => parseCgroup('x:memory:/\n')).toThrow(
      '/proc/<pid>/cgroup:1: hierarchy id is not a number: "x"',
    );
  });
});

describe('parsePasswd', () => {
  it('reads a recorded file', () => {
    expect(parsePasswd(read(recorded, 'etc/passwd'))).toEqual(
      new Map([
        [0, 'root'],
        [1, 'daemon'],
        [65534, 'nobody'],
      ]),
    );
  });

  it('skips comments and NIS entries, and keeps the first name of a uid', () => {
    expect(parsePasswd('# users\n+@admins::::::\nroot:x:0:0::/:/bin/sh\ntoor:x:0:0::/:/bin/sh\n')).toEqual(
      new Map([[0, 'root']]),
    );
  });

  it('accepts empty input and rejects a truncated line and a uid that is not a number', () => {
    expect(parsePasswd('')).toEqual(new Map());
    expect(() => parsePasswd('root:x:0:0::/:/bin/sh\nalice:x:1000\n')).toThrow(
      '/etc/passwd:2: expected 7 fields, got 3',
    );
    expect(() => parsePasswd('alice:x:one:1000::/home/alice:/bin/sh\n')).toThrow(
      '/etc/passwd:1: uid of "alice" is not a number: "one"',
    );
  });
});

describe('parseCmdline', () => {
  it('joins arguments with spaces', () => {
    expect(parseCmdline(read(recorded, 'proc/11405/cmdline'))).toBe('sleep 100000');
    expect(parseCmdline('')).toBe('');
    expect(parseCmdline('a\0b c\0')).toBe('a b c');
  });
});

describe('parseCommand', () => {
  it('takes the first argument, or the whole rewritten string', () => {
    expect(parseCommand(read(recorded, 'proc/11405/cmdline'))).toBe('sleep');
    expect(parseCommand(read(synthetic, 'proc/301/cmdline'))).toBe('nginx: worker process');
    expect(parseCommand('')).toBe('');
    expect(parseCommand('no-nul-at-all')).toBe('no-nul-at-all');
  });
});
