import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCgroupFsClient } from './client.ts';
import { FlatKeyedReader, parseFlatKeyed } from './parse/flat-keyed.ts';

const dir = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-client-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cgroup file client', () => {
  it('reads a whole file larger than its buffer, in one-record mode too', () => {
    const path = join(dir, 'memory.stat');
    const text =
      Array.from({ length: 8000 }, (_, i) => `key_${String(i)} ${String(i * 4096)}`).join('\n') + '\n';
    expect(text.length).toBeGreaterThan(64 * 1024);
    writeFileSync(path, text);
    const client = createCgroupFsClient();
    expect(client.readText(path, true)).toBe(text);
    expect(client.readText(path)).toBe(text);
    expect(client.readHead(path, 10)).toBe(text.slice(0, 10));
    expect(parseFlatKeyed(text, path).get('key_7999')).toBe(7999 * 4096);
  });

  it('gives the previous listing back while the names stay the same, a new one when one changed', () => {
    const cgroup = join(dir, 'cgroup');
    mkdirSync(join(cgroup, 'child-b'), { recursive: true });
    mkdirSync(join(cgroup, 'child-a'));
    writeFileSync(join(cgroup, 'cpu.stat'), 'usage_usec 1\n');
    const client = createCgroupFsClient();
    const first = client.listDir(cgroup);
    expect(first?.dirs).toEqual(['child-a', 'child-b']);
    expect([...(first?.files ?? [])]).toEqual(['cpu.stat']);
    expect(client.listDir(cgroup, first)).toBe(first);
    writeFileSync(join(cgroup, 'memory.stat'), 'anon 1\n');
    const second = client.listDir(cgroup, first);
    expect(second).not.toBe(first);
    expect([...(second?.files ?? [])].sort()).toEqual(['cpu.stat', 'memory.stat']);
    rmSync(join(cgroup, 'child-a'), { recursive: true });
    expect(client.listDir(cgroup, second)?.dirs).toEqual(['child-b']);
    rmSync(cgroup, { recursive: true });
    expect(client.listDir(cgroup, second)).toBeUndefined();
  });

  it('answers undefined for a file that is gone', () => {
    expect(createCgroupFsClient().readText(join(dir, 'gone'), true)).toBeUndefined();
  });
});

describe('parseFlatKeyed values', () => {
  it('parses 64-bit values as Number() does, negative values, and rejects a value with other characters', () => {
    const parsed = parseFlatKeyed('a 9223372036854771712\nb -12\nc 0\n', 'x');
    expect([...parsed]).toEqual([
      ['a', Number('9223372036854771712')],
      ['b', -12],
      ['c', 0],
    ]);
    expect(() => parseFlatKeyed('a 12x\n', 'x')).toThrow('x:1: value of a is not an integer: "12x"');
    expect(() => parseFlatKeyed('a -\n', 'x')).toThrow('value of a is not an integer');
  });
});

describe('FlatKeyedReader', () => {
  it('reads the known keys of each file, forgets those of the file before, and fails as parseFlatKeyed does', () => {
    const reader = new FlatKeyedReader(['anon', 'file', 'total_rss']);
    reader.read('anon 12\nfile 9223372036854771712\nkernel 5\nfil 7\nanonx 3\n', 'm');
    expect([reader.get('anon'), reader.get('file'), reader.get('total_rss')]).toEqual([
      12,
      Number('9223372036854771712'),
      undefined,
    ]);
    // Keys it does not know answer undefined, even when the file has them.
    expect(reader.get('kernel')).toBeUndefined();
    reader.read('total_rss 4\n', 'm');
    expect([reader.get('anon'), reader.get('total_rss')]).toEqual([undefined, 4]);
    expect(() => reader.read('anon 12\nfile 3\nfile_map', '/m/memory.stat')).toThrow(
      '/m/memory.stat:3: expected "key value", got "file_map"',
    );
    expect(() => reader.read('kernel 1x\n', 'x')).toThrow('x:1: value of kernel is not an integer: "1x"');
  });
});
