import { closeSync, fstatSync, openSync, readSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/** Filesystem sizes from statfs(2), in bytes and inodes. */
export interface FsUsage {
  readonly totalBytes: number;
  readonly freeBytes: number;
  /** Free space available to unprivileged users. */
  readonly availableBytes: number;
  readonly inodes: number;
  readonly freeInodes: number;
}

/** The only I/O of the procfs receiver: pseudo-file reads and statfs under a root path. */
export interface ProcfsClient {
  /** Reads `${root}/${path}` (e.g. `proc/stat`) as text; throws the system error. */
  read(path: string): string;
  /**
   * Reads `${root}/${path}` as bytes, a view of the client's buffer valid until its next call
   * (no string made: for a parser that needs a few lines of a long file, or a mount table
   * compared with the last one); throws the system error. Without it, the caller encodes
   * `read`'s text.
   */
  readBytes?(path: string): Uint8Array;
  /** statfs of `${root}/${mountpoint}`; throws the system error. */
  statfs(mountpoint: string): FsUsage;
  /** Closes the files held open; the next read opens them again. */
  close?(): void;
}

/**
 * The smallest page size of Linux. A `seq_file` read returns at most the records that fit in
 * its buffer, one page (larger only while a single record does not fit in a page).
 */
const PAGE = 4096;

/**
 * How a read of a held pseudo-file shows that it reached the end, so that the read that would
 * return 0 is not made (`npm run bench -- agent`, the `reads` row, measures a scrape's reads
 * against a C floor making the same calls):
 *
 * - `0`: the kernel generates the text whole at each read (`single_open`: /proc/stat,
 *   meminfo, loadavg, uptime), so a read that did not fill the buffer returned all of it.
 * - `n > 0`: a `seq_file` whose records are at most `n` bytes each (vmstat: one `name value`
 *   line, the last followed by `nr_unstable 0`; net/dev: the two header lines, then one line
 *   per interface of at most 16 numbers of 20 digits and a 15-character name). The kernel
 *   fills a read with whole records until the next one would overflow its page, so a read
 *   that returned at most a page less `n` bytes ended for want of records, not of room.
 *
 * The files not listed (diskstats: a record is a disk with all its partitions; mounts: a
 * record holds paths and mount options of any length) are read until a read returns 0.
 */
const END_OF_READ = new Map<string, number>([
  ['proc/stat', 0],
  ['proc/meminfo', 0],
  ['proc/loadavg', 0],
  ['proc/uptime', 0],
  ['proc/vmstat', 96],
  ['proc/1/net/dev', 512],
  ['proc/net/dev', 512],
]);

/**
 * How the client knows it read all of `path` (relative to its root) while it holds it open:
 * `0` when a read short of the buffer is the end, `n > 0` when a read of at most a page less
 * `n` bytes is, undefined when only a read that returns 0 is (see {@link END_OF_READ}).
 */
export function endOfRead(path: string): number | undefined {
  return END_OF_READ.get(path);
}

/**
 * Whether a read of `got` bytes out of `asked` is the last one of a file whose end shows as
 * `end` ({@link endOfRead}).
 */
export function readToEnd(got: number, asked: number, end: number | undefined): boolean {
  if (end === undefined) return false;
  return end === 0 ? got < asked : got <= Math.min(asked, PAGE) - end;
}

/**
 * Reads pseudo-files synchronously into one reused buffer: small /proc files answer at once
 * from the kernel, and an async read would pay a thread-pool round trip per file.
 *
 * A pseudo-file (size 0: the kernel generates its text on each read, as for every /proc file
 * read here) stays open and is read again from offset 0 on the next scrape, which saves the
 * open and close of every file on every scrape. A regular file (a test fixture, a copy) is
 * opened each time, since it may be replaced. A failed read closes the file.
 */
export function createProcfsClient(root: string): Required<ProcfsClient> {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  /** Pseudo-files held open: path → descriptor, and how a read shows the end ({@link endOfRead}). */
  const open = new Map<string, { fd: number; end: number | undefined }>();
  /** Mount points from /proc/mounts are absolute and normalised: under `/` they are the path. */
  const rooted = root === '/' ? (path: string): string => path : (path: string) => join(root, path);
  /** The length read of `fd` from offset 0 into `buffer`; `end`: how a read shows the end ({@link endOfRead}). */
  const readAll = (fd: number, end: number | undefined): number => {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const asked = buffer.length - length;
      const n = readSync(fd, buffer, length, asked, length);
      if (n === 0) break;
      length += n;
      if (readToEnd(n, asked, end)) break;
    }
    return length;
  };
  /** The length of `path` read into `buffer`. */
  const readInto = (path: string): number => {
    const held = open.get(path);
    if (held !== undefined) {
      try {
        return readAll(held.fd, held.end);
      } catch (error) {
        open.delete(path);
        closeSync(held.fd);
        throw error;
      }
    }
    const fd = openSync(join(root, path), 'r');
    let keep = false;
    try {
      keep = fstatSync(fd).size === 0;
      const length = readAll(fd, undefined);
      if (keep) open.set(path, { fd, end: endOfRead(path) });
      return length;
    } catch (error) {
      keep = false;
      throw error;
    } finally {
      if (!keep) closeSync(fd);
    }
  };
  return {
    read(path) {
      const length = readInto(path); // first: it may replace the buffer with a larger one
      return buffer.toString('utf8', 0, length);
    },
    readBytes(path) {
      const length = readInto(path);
      return buffer.subarray(0, length);
    },
    statfs(mountpoint) {
      const s = statfsSync(rooted(mountpoint));
      return {
        totalBytes: s.blocks * s.bsize,
        freeBytes: s.bfree * s.bsize,
        availableBytes: s.bavail * s.bsize,
        inodes: s.files,
        freeInodes: s.ffree,
      };
    },
    close() {
      for (const { fd } of open.values()) closeSync(fd);
      open.clear();
    },
  };
}
