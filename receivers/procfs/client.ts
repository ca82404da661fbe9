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
  /** statfs of `${root}/${mountpoint}`; throws the system error. */
  statfs(mountpoint: string): FsUsage;
  /** Closes the files held open; the next read opens them again. */
  close?(): void;
}

/**
 * Pseudo-files the kernel generates whole at each read (`single_open`: /proc/stat, meminfo,
 * loadavg, uptime): a read into a buffer larger than the text returns all of it, so a read
 * that did not fill the buffer reached the end and the read that would return 0 is not made.
 * The others (vmstat, diskstats, net/dev, mounts: seq_file iterators) may return a page at a
 * time and are read until a read returns 0. Saves 4 of the 16 reads of a default scrape
 * (`npm run bench -- agent`, the `reads` row, measures the scrape's reads against a C floor
 * making the same calls).
 */
const GENERATED_WHOLE = new Set(['proc/stat', 'proc/meminfo', 'proc/loadavg', 'proc/uptime']);

/** Whether the client reads `path` (relative to its root) with one read while it holds it open. */
export function readsWholeAtOnce(path: string): boolean {
  return GENERATED_WHOLE.has(path);
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
export function createProcfsClient(root: string): ProcfsClient {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  /** Pseudo-files held open: path → descriptor, and whether one read returns all of it. */
  const open = new Map<string, { fd: number; whole: boolean }>();
  /** Mount points from /proc/mounts are absolute and normalised: under `/` they are the path. */
  const rooted = root === '/' ? (path: string): string => path : (path: string) => join(root, path);
  /** The text of `fd` from offset 0; `whole`: a read short of the buffer is the end. */
  const readAll = (fd: number, whole: boolean): string => {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
      if (whole && length < buffer.length) break;
    }
    return buffer.toString('utf8', 0, length);
  };
  return {
    read(path) {
      const held = open.get(path);
      if (held !== undefined) {
        try {
          return readAll(held.fd, held.whole);
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
        const text = readAll(fd, false);
        if (keep) open.set(path, { fd, whole: readsWholeAtOnce(path) });
        return text;
      } catch (error) {
        keep = false;
        throw error;
      } finally {
        if (!keep) closeSync(fd);
      }
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
