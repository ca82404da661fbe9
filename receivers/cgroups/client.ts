import { closeSync, constants, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { errorCode } from '../../kit/errors.ts';

/** Open flags as a number: the string form is parsed again on every call. */
const { O_RDONLY } = constants;

/**
 * The only file-system I/O of the cgroups receiver. cgroup and proc files are small
 * pseudo-files that the kernel answers at once, so they are read synchronously into one
 * reused buffer (RECIPES.md: about 1.5× a C loop, against 15–80× for async reads).
 */

/** Subdirectories and regular files of a directory. */
export interface DirEntries {
  readonly dirs: readonly string[];
  readonly files: ReadonlySet<string>;
  /** Every name, in the order the directory gave them (to tell a listing that did not change). */
  readonly names: readonly string[];
}

/** Reads cgroup and proc files. Tests hand in fixture trees through `root_path` or their own client. */
export interface CgroupFsClient {
  /**
   * A whole file as text; undefined when it is gone (ENOENT, ENODEV, ESRCH). Other errors throw.
   * `oneRecord`: the file is a cgroup interface file, which the kernel writes in one piece
   * (one `seq_show` of the whole file), so a read that does not fill the buffer has it all
   * and no second read is needed to see the end of the file.
   */
  readText(path: string, oneRecord?: boolean): string | undefined;
  /** At most the first `maxBytes` bytes of a file; undefined when it is gone. */
  readHead(path: string, maxBytes: number): string | undefined;
  /**
   * Subdirectories and regular files, sorted by name; undefined when the directory is gone.
   * When it holds the same names as `previous` (its listing of the previous scrape), returns
   * `previous` itself: a cgroup's listing rarely changes, and then nothing new is kept.
   */
  listDir(path: string, previous?: DirEntries): DirEntries | undefined;
  /** A symbolic link's target; undefined when it is gone. Other errors (EACCES) throw. */
  readLink(path: string): string | undefined;
}

/**
 * Error codes that mean "not there (any more)": a cgroup removed after it was listed answers
 * ENOENT on open or ENODEV on read; a process that exited answers ESRCH or ENOENT.
 */
const GONE = new Set(['ENOENT', 'ENODEV', 'ESRCH']);

/** Whether an error means the file or its cgroup or process is gone. */
export function isGone(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && GONE.has(code);
}

const INITIAL_BUFFER = 64 * 1024;
const MAX_BUFFER = 16 * 1024 * 1024;

/** A client reading the real file system. */
export function createCgroupFsClient(): CgroupFsClient {
  let buffer = Buffer.allocUnsafe(INITIAL_BUFFER);

  const read = (path: string, limit: number, oneRecord = false): string | undefined => {
    let fd: number;
    try {
      fd = openSync(path, O_RDONLY);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
    try {
      let length = 0;
      for (;;) {
        if (length === buffer.length) {
          if (length >= limit || buffer.length >= MAX_BUFFER) break;
          const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_BUFFER));
          buffer.copy(bigger, 0, 0, length);
          buffer = bigger;
        }
        const room = Math.min(buffer.length, limit) - length;
        const n = readSync(fd, buffer, length, room, null);
        if (n === 0) break;
        length += n;
        if (length >= limit || (oneRecord && n < room)) break;
      }
      return buffer.toString('latin1', 0, length);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    } finally {
      closeSync(fd);
    }
  };

  return {
    readText: (path, oneRecord) => read(path, MAX_BUFFER, oneRecord),
    readHead: (path, maxBytes) => read(path, maxBytes),
    listDir(path, previous) {
      try {
        if (previous !== undefined) {
          // Names only (no entry objects); the types again only when a name changed.
          const names = readdirSync(path);
          if (sameNames(names, previous.names)) return previous;
        }
        const dirs: string[] = [];
        const files = new Set<string>();
        const names: string[] = [];
        for (const entry of readdirSync(path, { withFileTypes: true })) {
          names.push(entry.name);
          if (entry.isDirectory()) dirs.push(entry.name);
          else if (entry.isFile()) files.add(entry.name);
        }
        dirs.sort();
        return { dirs, files, names };
      } catch (error) {
        if (isGone(error) || errorCode(error) === 'ENOTDIR') return undefined;
        throw error;
      }
    },
    readLink(path) {
      try {
        return readlinkSync(path);
      } catch (error) {
        if (isGone(error)) return undefined;
        throw error;
      }
    },
  };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
