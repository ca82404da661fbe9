import { closeSync, openSync, readSync, statfsSync } from 'node:fs';
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
}

/**
 * Reads pseudo-files synchronously into one reused buffer: small /proc files answer at once
 * from the kernel, and an async read would pay a thread-pool round trip per file.
 */
export function createProcfsClient(root: string): ProcfsClient {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  return {
    read(path) {
      const fd = openSync(join(root, path), 'r');
      try {
        let length = 0;
        for (;;) {
          if (length === buffer.length) {
            const bigger = Buffer.allocUnsafe(buffer.length * 2);
            buffer.copy(bigger, 0, 0, length);
            buffer = bigger;
          }
          const n = readSync(fd, buffer, length, buffer.length - length, null);
          if (n === 0) break;
          length += n;
        }
        return buffer.toString('utf8', 0, length);
      } finally {
        closeSync(fd);
      }
    },
    statfs(mountpoint) {
      const s = statfsSync(join(root, mountpoint));
      return {
        totalBytes: s.blocks * s.bsize,
        freeBytes: s.bfree * s.bsize,
        availableBytes: s.bavail * s.bsize,
        inodes: s.files,
        freeInodes: s.ffree,
      };
    },
  };
}
