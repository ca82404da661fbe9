import { ParseError } from '../../../kit/errors.ts';
import { lines, toNumber } from '../../../kit/procfs/fields.ts';

/**
 * One device of /proc/diskstats (Documentation/admin-guide/iostats.rst). Kernels print 14
 * fields (before 4.18), 18 (4.18+: discards) or 20 (5.5+: flushes); absent groups are
 * undefined. Times are milliseconds, sectors are 512 bytes.
 */
export interface DiskStats {
  readonly major: number;
  readonly minor: number;
  readonly name: string;
  readonly readsCompleted: number;
  readonly readsMerged: number;
  readonly sectorsRead: number;
  readonly readTimeMs: number;
  readonly writesCompleted: number;
  readonly writesMerged: number;
  readonly sectorsWritten: number;
  readonly writeTimeMs: number;
  readonly inFlight: number;
  readonly ioTimeMs: number;
  readonly weightedIoTimeMs: number;
  readonly discards?: { completed: number; merged: number; sectors: number; timeMs: number };
  readonly flushes?: { completed: number; timeMs: number };
}

const SOURCE = '/proc/diskstats';

/** Parses /proc/diskstats in its 14-, 18- and 20-field forms. */
export function parseDiskstats(text: string): DiskStats[] {
  return lines(text).map(({ line, text: l }) => {
    const f = l.trim().split(/\s+/);
    if (f.length !== 14 && f.length !== 18 && f.length !== 20) {
      throw new ParseError(SOURCE, line, `expected 14, 18 or 20 fields, got ${f.length}`);
    }
    const n = (i: number, what: string): number => toNumber(f[i], SOURCE, line, what);
    const stats: DiskStats = {
      major: n(0, 'major'),
      minor: n(1, 'minor'),
      name: f[2] ?? '',
      readsCompleted: n(3, 'reads completed'),
      readsMerged: n(4, 'reads merged'),
      sectorsRead: n(5, 'sectors read'),
      readTimeMs: n(6, 'ms reading'),
      writesCompleted: n(7, 'writes completed'),
      writesMerged: n(8, 'writes merged'),
      sectorsWritten: n(9, 'sectors written'),
      writeTimeMs: n(10, 'ms writing'),
      inFlight: n(11, 'I/Os in progress'),
      ioTimeMs: n(12, 'ms doing I/O'),
      weightedIoTimeMs: n(13, 'weighted ms doing I/O'),
    };
    const discards =
      f.length >= 18
        ? {
            completed: n(14, 'discards'),
            merged: n(15, 'discards merged'),
            sectors: n(16, 'sectors discarded'),
            timeMs: n(17, 'ms discarding'),
          }
        : undefined;
    const flushes =
      f.length === 20 ? { completed: n(18, 'flushes'), timeMs: n(19, 'ms flushing') } : undefined;
    return { ...stats, ...(discards && { discards }), ...(flushes && { flushes }) };
  });
}
