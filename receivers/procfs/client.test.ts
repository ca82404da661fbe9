import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProcfsClient, endOfRead, readToEnd } from './client.ts';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('procfs client', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a pseudo-file open and reads it whole again from the start', () => {
    const client = createProcfsClient('/');
    const before = openFds();
    const first = client.read('proc/meminfo');
    expect(openFds()).toBe(before + 1);
    const second = client.read('proc/meminfo');
    expect(openFds()).toBe(before + 1);
    expect(second.startsWith('MemTotal:')).toBe(true);
    expect(second.split('\n').length).toBe(first.split('\n').length);
    client.close();
    expect(openFds()).toBe(before);
    expect(client.read('proc/meminfo').startsWith('MemTotal:')).toBe(true);
    client.close();
  });

  it('reads the files the kernel generates whole with one read, and gets all of their text', () => {
    const client = createProcfsClient('/');
    for (const path of ['proc/stat', 'proc/meminfo', 'proc/loadavg', 'proc/uptime']) {
      expect(endOfRead(path)).toBe(0);
      client.read(path);
      // Held open now: read again with one read. The same lines as a read to the end.
      const lines = client.read(path).split('\n');
      const expected = readFileSync(`/${path}`, 'utf8').split('\n');
      expect(lines.length).toBe(expected.length);
      expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(expected.map((l) => l.split(/\s+/)[0]));
    }
    expect(endOfRead('proc/diskstats')).toBeUndefined();
    expect(endOfRead('proc/self/mounts')).toBeUndefined();
    client.close();
  });

  it('ends a seq_file of short records at a read that leaves more than a record of its page', () => {
    // vmstat: records of at most 96 bytes, so a read of at most 4,000 bytes is the last.
    const vmstat = endOfRead('proc/vmstat') ?? Number.NaN;
    expect(vmstat).toBe(96);
    expect(readToEnd(3992, 65536, vmstat)).toBe(true);
    expect(readToEnd(4000, 65536, vmstat)).toBe(true);
    expect(readToEnd(4001, 65536, vmstat)).toBe(false);
    expect(readToEnd(4096, 65536, vmstat)).toBe(false);
    // Asked for less than a page, a read is short only when the records ran out.
    expect(readToEnd(1000, 1000, vmstat)).toBe(false);
    expect(readToEnd(904, 1000, vmstat)).toBe(true);
    expect(readToEnd(905, 1000, vmstat)).toBe(false);
    // Generated whole: short of what was asked is the end.
    expect(readToEnd(1205, 65536, 0)).toBe(true);
    expect(readToEnd(65536, 65536, 0)).toBe(false);
    expect(readToEnd(10, 65536, undefined)).toBe(false);
  });

  it('reads the same text with the short-read end as to the read that returns 0', () => {
    const client = createProcfsClient('/');
    for (const path of ['proc/vmstat', 'proc/1/net/dev', 'proc/net/dev']) {
      client.read(path);
      // Held open now, read until a short read: the same names, line for line.
      const names = (text: string): string[] =>
        text.split('\n').map((l) => l.trim().split(/[\s:]+/)[0] ?? '');
      expect(names(client.read(path))).toEqual(names(readFileSync(`/${path}`, 'utf8')));
    }
    client.close();
  });

  it('reads all pages of a seq_file of short records held open', () => {
    // /proc/kallsyms: megabytes of lines under 96 bytes, generated a page at a time, read here
    // through the name of vmstat so that the client ends it at a short read.
    dir = mkdtempSync(join(tmpdir(), 'inframeter-procfs-client-'));
    mkdirSync(join(dir, 'proc'));
    symlinkSync('/proc/kallsyms', join(dir, 'proc', 'vmstat'));
    const expected = readFileSync('/proc/kallsyms', 'utf8');
    expect(expected.length).toBeGreaterThan(64 * 1024);
    expect(Math.max(...expected.split('\n').map((l) => l.length + 1))).toBeLessThanOrEqual(96);
    const client = createProcfsClient(dir);
    expect(client.read('proc/vmstat')).toBe(expected);
    expect(client.read('proc/vmstat')).toBe(expected);
    client.close();
  });

  it('closes a held file that went away, and reports it gone on the next read', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    const pid = child.pid ?? Number.NaN;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const client = createProcfsClient('/');
    const before = openFds();
    const path = `proc/${String(pid)}/stat`;
    expect(client.read(path).startsWith(`${String(pid)} (sleep) `)).toBe(true);
    expect(client.read(path).startsWith(`${String(pid)} (sleep) `)).toBe(true);
    expect(openFds()).toBe(before + 1);
    child.kill('SIGKILL');
    await exited;
    // The held descriptor reads the process that is gone: the error, and the file closed.
    expect(() => client.read(path)).toThrow(/ESRCH/);
    expect(openFds()).toBe(before);
    // The next read opens the path again, which is gone too.
    expect(() => client.read(path)).toThrow(/ENOENT/);
    expect(openFds()).toBe(before);
    // A file still there is read and held again after another's error.
    expect(client.read('proc/loadavg').split(' ')).toHaveLength(5);
    expect(openFds()).toBe(before + 1);
    client.close();
  });

  it('opens a regular file each time, so a replaced file is read anew', () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-procfs-client-'));
    const client = createProcfsClient(dir);
    writeFileSync(join(dir, 'loadavg'), '0.10 0.20 0.30 1/100 42\n');
    const before = openFds();
    expect(client.read('loadavg')).toBe('0.10 0.20 0.30 1/100 42\n');
    expect(openFds()).toBe(before);
    writeFileSync(join(dir, 'loadavg.new'), '1.00 2.00 3.00 2/200 43\n');
    renameSync(join(dir, 'loadavg.new'), join(dir, 'loadavg'));
    expect(client.read('loadavg')).toBe('1.00 2.00 3.00 2/200 43\n');
  });

  it('reads a pseudo-file larger than its buffer', () => {
    const client = createProcfsClient('/');
    // /proc/self/smaps of a Node.js process is well over 64 KiB.
    const text = client.read('proc/self/smaps');
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(client.read('proc/self/smaps').slice(0, 40)).toBe(text.slice(0, 40));
    client.close();
  });

  it('asks statfs of a mount point under its root', () => {
    const root = mkdtempSync(join(tmpdir(), 'inframeter-procfs-client-'));
    dir = root;
    mkdirSync(join(root, 'data'));
    const total = (path: string): number => statfsSync(path).blocks * statfsSync(path).bsize;
    expect(createProcfsClient('/').statfs('/').totalBytes).toBe(total('/'));
    expect(createProcfsClient(root).statfs('/data').totalBytes).toBe(total(join(root, 'data')));
    expect(() => createProcfsClient(root).statfs('/missing')).toThrow(/ENOENT/);
  });
});
