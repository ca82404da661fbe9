import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProcfsClient, readsWholeAtOnce } from './client.ts';

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
    client.close?.();
    expect(openFds()).toBe(before);
    expect(client.read('proc/meminfo').startsWith('MemTotal:')).toBe(true);
    client.close?.();
  });

  it('reads the files the kernel generates whole with one read, and gets all of their text', () => {
    const client = createProcfsClient('/');
    for (const path of ['proc/stat', 'proc/meminfo', 'proc/loadavg', 'proc/uptime']) {
      expect(readsWholeAtOnce(path)).toBe(true);
      client.read(path);
      // Held open now: read again with one read. The same lines as a read to the end.
      const lines = client.read(path).split('\n');
      const expected = readFileSync(`/${path}`, 'utf8').split('\n');
      expect(lines.length).toBe(expected.length);
      expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(expected.map((l) => l.split(/\s+/)[0]));
    }
    expect(readsWholeAtOnce('proc/vmstat')).toBe(false);
    client.close?.();
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
    client.close?.();
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
