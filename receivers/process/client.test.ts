import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileProcessClient } from './client.ts';

const synthetic = join(import.meta.dirname, 'testdata', 'fixtures', 'synthetic');

describe('createFileProcessClient', () => {
  it("detects the kernel's page size from the head of /proc/self/smaps", () => {
    const expected = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
    expect(createFileProcessClient({ rootPath: synthetic }).pageSize()).toBe(expected);
  });

  it('keeps a page size it was given', () => {
    expect(createFileProcessClient({ rootPath: synthetic, pageSize: 16384 }).pageSize()).toBe(16384);
  });
});
