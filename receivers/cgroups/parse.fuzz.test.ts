import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { InframeterError } from '../../kit/errors.ts';
import { damagedText, fuzzParameters, fuzzTimeout, onlyTypedErrors } from '../../test/support/fuzz.ts';
import { parseBlkioStat } from './parse/blkio.ts';
import { parseCgroupPath } from './parse/cgroup-path.ts';
import { parseFlatKeyed } from './parse/flat-keyed.ts';
import { parseIoStat } from './parse/io-stat.ts';
import { parseCgroupMounts, resolveHierarchies } from './parse/mounts.ts';
import { parseNamespaceLink } from './parse/namespace.ts';
import { parsePressure } from './parse/pressure.ts';
import { parseFirstPid } from './parse/procs.ts';
import { parseLimit, parseSingleValue } from './parse/single-value.ts';
import { parseUeventDevname } from './parse/uevent.ts';

// The cgroup file parsers (v1 and v2) and the cgroup path classifier on damaged recordings
// and arbitrary text: they return, or reject with a ParseError.

const fixtures = join(import.meta.dirname, 'testdata', 'fixtures');
const read = (...path: string[]): string => readFileSync(join(fixtures, ...path), 'utf8');
const v2 = (file: string): string => read('v2-systemd', 'sys', 'fs', 'cgroup', file);
const typed = (error: unknown): boolean => error instanceof InframeterError;

const parsers: [string, string[], (text: string) => unknown][] = [
  ['memory.stat', [v2('memory.stat'), v2('cpu.stat')], (t) => parseFlatKeyed(t, 'memory.stat')],
  ['io.stat', [v2('io.stat')], (t) => parseIoStat(t, 'io.stat')],
  ['cpu.pressure', [v2('cpu.pressure')], (t) => parsePressure(t, 'cpu.pressure')],
  [
    'blkio',
    [read('v1-cgroupfs', 'sys', 'fs', 'cgroup', 'blkio', 'blkio.throttle.io_service_bytes')],
    (t) => parseBlkioStat(t, 'blkio.throttle.io_service_bytes'),
  ],
  [
    'mounts',
    [read('v1-cgroupfs', 'proc', '1', 'mounts')],
    (t) => resolveHierarchies(parseCgroupMounts(t, '/proc/1/mounts')),
  ],
  ['single value', ['12345\n', 'max\n'], (t) => [parseSingleValue(t, 'f'), parseLimit(t, 'f')]],
  ['cgroup.procs', ['1\n2\n'], parseFirstPid],
  ['ns link', ['net:[4026531992]'], parseNamespaceLink],
  ['uevent', ['MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n'], parseUeventDevname],
  [
    'cgroup path',
    [
      '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abcdef.scope',
      '/slurm/uid_1000/job_4242/step_0',
      '/system.slice/slurmstepd.scope/job_7/step_batch/user/task_0',
      '/oar/alice_31337',
      '/docker/3f4c2d9b8a7e',
    ],
    parseCgroupPath,
  ],
];

describe('cgroups parsers under damaged input', () => {
  for (const [name, fixtureTexts, parse] of parsers)
    it(
      `${name}: returns or throws a ParseError`,
      () => {
        fc.assert(
          fc.property(damagedText(fixtureTexts), (text) => onlyTypedErrors(() => parse(text), typed)),
          fuzzParameters(300),
        );
      },
      fuzzTimeout(),
    );
});
