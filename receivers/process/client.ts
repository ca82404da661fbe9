import { closeSync, constants, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { errorCode } from '../../kit/errors.ts';

/** Open flags as a number: the string form is parsed again on every call. */
const { O_RDONLY } = constants;

/** The per-process files the receiver reads under `/proc/<pid>/`. */
export type PidFile = 'stat' | 'statm' | 'status' | 'io' | 'cgroup' | 'cmdline';

/**
 * All the I/O of the process receiver, behind an interface so that tests hand fixtures in.
 * Methods taking a pid return `undefined` when the process is gone (it exited between the
 * listing of /proc and the read: ENOENT or ESRCH) and throw on any other failure (EACCES).
 */
export interface ProcessClient {
  /** The process ids under `/proc` (its numeric entries). Throws when /proc cannot be listed. */
  listPids(): number[];
  /** The text of `/proc/<pid>/<file>`. */
  readPidFile(pid: number, file: PidFile): string | undefined;
  /**
   * The bytes of `/proc/<pid>/<file>`: for the files read of every process on every scrape,
   * scanned without making a string of them. The answer is the reader's own buffer and length,
   * overwritten by the next read.
   */
  readPidBytes(pid: number, file: PidFile): FileBytes | undefined;
  /**
   * The base name of the `/proc/<pid>/exe` link target, without the ` (deleted)` the kernel
   * appends for a replaced binary; undefined when the process is gone or has no executable
   * (kernel threads, zombies).
   */
  readExecutableName(pid: number): string | undefined;
  /** The number of open descriptors: the numeric entries of `/proc/<pid>/fd/`. */
  countFds(pid: number): number | undefined;
  /** The text of `/proc/stat` (for the boot time). */
  readProcStat(): string;
  /** The text of `<root>/etc/passwd`; undefined when there is none. */
  readPasswd(): string | undefined;
  /** The text of a file under the root (a pid file); undefined when it does not exist. */
  readRootFile(path: string): string | undefined;
  /** Bytes per memory page (statm counts pages). */
  pageSize(): number;
}

/** A file's content: `bytes[0, length)`. */
export interface FileBytes {
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** Options of {@link createFileProcessClient}. */
export interface FileProcessClientOptions {
  /** Where the host's root is mounted (`/`, or `/host` in a container). */
  readonly rootPath: string;
  /** Bytes per page; detected from the running kernel when omitted (the root shares it). */
  readonly pageSize?: number;
}

const GONE = new Set(['ENOENT', 'ESRCH']);
const INITIAL_BUFFER = 64 * 1024;
const DEFAULT_PAGE_SIZE = 4096;

function isGone(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && GONE.has(code);
}

function isDigit(charCode: number): boolean {
  return charCode >= 48 && charCode <= 57;
}

/**
 * Reads files synchronously into one reused buffer (see RECIPES.md: an async read pays a
 * thread-pool round trip per file, which dominates for small procfs files).
 */
class BufferedReader {
  #buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  /** The last read, answered by `readBytes`: one object for every read, not a view per read. */
  readonly #last = { bytes: this.#buffer as Uint8Array, length: 0 };

  /**
   * Reads a whole file. A short read ends it: procfs files answer with their whole record when
   * the buffer is large enough, and regular files return what is left; the buffer grows when
   * a read fills it.
   */
  read(path: string): string {
    const { length } = this.readBytes(path);
    return this.#buffer.toString('utf8', 0, length);
  }

  /** Reads a whole file into the reused buffer: valid until the next read. */
  readBytes(path: string): FileBytes {
    const fd = openSync(path, O_RDONLY);
    try {
      let length = 0;
      for (;;) {
        const room = this.#buffer.length - length;
        const n = readSync(fd, this.#buffer, length, room, null);
        length += n;
        if (n < room) break;
        const bigger = Buffer.allocUnsafe(this.#buffer.length * 2);
        this.#buffer.copy(bigger, 0, 0, length);
        this.#buffer = bigger;
      }
      this.#last.bytes = this.#buffer;
      this.#last.length = length;
      return this.#last;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Reads the kernel's page size from the first mapping of `/proc/self/smaps`: its first 4 KiB
 * only, in a buffer of its own. The whole file (150 KiB for a collector) would have grown the
 * receiver's reader to 256 KiB, kept for the life of the process.
 */
function detectPageSize(): number {
  try {
    const head = Buffer.allocUnsafe(4096);
    const fd = openSync('/proc/self/smaps', O_RDONLY);
    let length: number;
    try {
      length = readSync(fd, head, 0, head.length, null);
    } finally {
      closeSync(fd);
    }
    const match = /KernelPageSize:\s+(\d+) kB/.exec(head.toString('latin1', 0, length));
    return match === null ? DEFAULT_PAGE_SIZE : Number(match[1]) * 1024;
  } catch {
    // Without /proc/self/smaps (a kernel without CONFIG_PROC_PAGE_MONITOR) assume the common size.
    return DEFAULT_PAGE_SIZE;
  }
}

/** The client that reads `${rootPath}/proc`. */
export function createFileProcessClient(options: FileProcessClientOptions): ProcessClient {
  const reader = new BufferedReader();
  const proc = join(options.rootPath, 'proc');
  const passwdPath = join(options.rootPath, 'etc', 'passwd');
  let pageSize = options.pageSize;
  // The paths of each process's files, made once per process: kept for the pids of the last
  // listing (a process's paths are the same on every scrape).
  let paths = new Map<number, Map<string, string>>();
  const pathOf = (pid: number, file: string): string => {
    let byFile = paths.get(pid);
    if (byFile === undefined) {
      byFile = new Map();
      paths.set(pid, byFile);
    }
    let path = byFile.get(file);
    if (path === undefined) {
      path = `${proc}/${pid}/${file}`;
      byFile.set(file, path);
    }
    return path;
  };
  const readOrUndefined = (path: string): string | undefined => {
    try {
      return reader.read(path);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
  };
  const readBytesOrUndefined = (path: string): FileBytes | undefined => {
    try {
      return reader.readBytes(path);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
  };
  return {
    listPids() {
      const pids: number[] = [];
      const next = new Map<number, Map<string, string>>();
      const names = readdirSync(proc);
      for (let i = 0; i < names.length; i++) {
        const name = names[i] ?? '';
        if (!isDigit(name.charCodeAt(0))) continue;
        const pid = Number(name);
        if (!Number.isSafeInteger(pid)) continue;
        pids.push(pid);
        const known = paths.get(pid);
        if (known !== undefined) next.set(pid, known);
      }
      paths = next;
      return pids;
    },
    readPidFile(pid, file) {
      return readOrUndefined(pathOf(pid, file));
    },
    readPidBytes(pid, file) {
      return readBytesOrUndefined(pathOf(pid, file));
    },
    readExecutableName(pid) {
      let target: string;
      try {
        target = readlinkSync(pathOf(pid, 'exe'));
      } catch (error) {
        if (isGone(error)) return undefined;
        throw error;
      }
      return basename(target.endsWith(' (deleted)') ? target.slice(0, -' (deleted)'.length) : target);
    },
    countFds(pid) {
      let names: string[];
      try {
        names = readdirSync(pathOf(pid, 'fd'));
      } catch (error) {
        if (isGone(error)) return undefined;
        throw error;
      }
      let count = 0;
      for (const name of names) if (isDigit(name.charCodeAt(0))) count += 1;
      return count;
    },
    readProcStat() {
      return reader.read(`${proc}/stat`);
    },
    readPasswd() {
      return readOrUndefined(passwdPath);
    },
    readRootFile(path) {
      return readOrUndefined(join(options.rootPath, path));
    },
    pageSize() {
      pageSize ??= detectPageSize();
      return pageSize;
    },
  };
}
