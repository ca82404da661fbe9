import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseDiskstats } from './parse/diskstats.ts';
import { parseLoadavg } from './parse/loadavg.ts';
import { parseMeminfo } from './parse/meminfo.ts';
import { parseMounts } from './parse/mounts.ts';
import { parseNetDev } from '../../kit/procfs/net-dev.ts';
import { parseStat } from '../../kit/procfs/stat.ts';
import { parseUptime } from './parse/uptime.ts';
import { parseVmstat } from './parse/vmstat.ts';

// Every /proc parser on damaged recordings and arbitrary text: it returns, or rejects with
// a typed error (ParseError); nothing else escapes.

const proc = (file: string): string[] =>
  ['linux-6.18-recorded', 'linux-5.4-format', 'linux-4.14-format'].flatMap((tree) => {
    try {
      return [readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', tree, 'proc', file), 'utf8')];
    } catch {
      return [];
    }
  });
const typed = (error: unknown): boolean => error instanceof InframeterError;

const parsers: [string, string[], (text: string) => unknown][] = [
  ['stat', proc('stat'), parseStat],
  ['meminfo', proc('meminfo'), parseMeminfo],
  ['loadavg', proc('loadavg'), parseLoadavg],
  ['uptime', proc('uptime'), parseUptime],
  ['vmstat', proc('vmstat'), (t) => parseVmstat(t)],
  ['diskstats', proc('diskstats'), parseDiskstats],
  ['net/dev', proc('net/dev'), (t) => parseNetDev(t)],
  ['self/mounts', proc('self/mounts'), (t) => parseMounts(t)],
];

describe('procfs parsers under damaged input', () => {
  for (const [name, fixtures, parse] of parsers)
    it(
      `/proc/${name}: returns or throws a ParseError`,
      () => {
        fc.assert(
          fc.property(damagedText(fixtures), (text) => onlyTypedErrors(() => parse(text), typed)),
          fuzzParameters(300),
        );
      },
      fuzzTimeout(),
    );
});
