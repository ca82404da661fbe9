import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCgroupFsClient } from './client.ts';
import { parseFlatKeyed } from './parse/flat-keyed.ts';

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
