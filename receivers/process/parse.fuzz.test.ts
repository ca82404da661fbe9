import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseCgroup } from '../../kit/procfs/cgroup.ts';
import { parseCmdline, parseCommand } from './parse/cmdline.ts';
import { parsePidIo } from './parse/io.ts';
import { parsePasswd } from './parse/passwd.ts';
import { parsePidStat } from '../../kit/procfs/pid-stat.ts';
import { parseStatm } from '../../kit/procfs/statm.ts';
import { countCpuList, parseStatus } from './parse/status.ts';

// The per-process parsers (/proc/PID/stat, status, statm, io, cgroup, cmdline, /etc/passwd)
// on damaged recordings and arbitrary text: they return, or reject with a ParseError.

const recorded = join(import.meta.dirname, 'testdata', 'fixtures', 'recorded', 'proc');
const pids = readdirSync(recorded).filter((p) => /^\d+$/.test(p));
const files = (name: string): string[] =>
  pids.flatMap((pid) => {
    try {
      return [readFileSync(join(recorded, pid, name), 'utf8')];
    } catch {
      return [];
    }
  });
const typed = (error: unknown): boolean => error instanceof InframeterError;

const parsers: [string, string[], (text: string) => unknown][] = [
  ['stat', files('stat'), parsePidStat],
  ['status', files('status'), parseStatus],
  ['statm', files('statm'), parseStatm],
  ['io', files('io'), parsePidIo],
  ['cgroup', files('cgroup'), parseCgroup],
  ['cmdline', files('cmdline'), (t) => [parseCmdline(t), parseCommand(t)]],
  ['passwd', ['root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n'], parsePasswd],
  ['Cpus_allowed_list', ['0-3,8,10-11', '0', ''], countCpuList],
];

describe('process parsers under damaged input', () => {
  for (const [name, fixtures, parse] of parsers)
    it(
      `${name}: returns or throws a ParseError`,
      () => {
        fc.assert(
          fc.property(damagedText(fixtures), (text) => onlyTypedErrors(() => parse(text), typed)),
          fuzzParameters(300),
        );
      },
      fuzzTimeout(),
    );
});
