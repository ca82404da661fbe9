import type { PidFile, ProcessClient } from '../client.ts';

/**
 * Process clients for tests: wrappers around a real client (usually reading a fixture root)
 * that count reads, fail some of them, or change what a file says.
 */

/** Reads per file kind (`stat`, `statm`, …, `exe`, `fd`, `passwd`, `root`). */
export type ReadCounts = Map<string, number>;

/** Counts every read it passes to `inner`. */
export function createCountingClient(inner: ProcessClient): { client: ProcessClient; counts: ReadCounts } {
  const counts: ReadCounts = new Map();
  const count = (kind: string): void => {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  };
  return {
    counts,
    client: {
      listPids: () => inner.listPids(),
      readPidFile(pid, file) {
        count(file);
        return inner.readPidFile(pid, file);
      },
      readPidBytes(pid, file) {
        count(file);
        return inner.readPidBytes(pid, file);
      },
      readExecutableName(pid) {
        count('exe');
        return inner.readExecutableName(pid);
      },
      countFds(pid) {
        count('fd');
        return inner.countFds(pid);
      },
      readProcStat: () => inner.readProcStat(),
      readPasswd() {
        count('passwd');
        return inner.readPasswd();
      },
      readRootFile(path) {
        count('root');
        return inner.readRootFile(path);
      },
      pageSize: () => inner.pageSize(),
    },
  };
}

/** An error as node:fs raises it, with a `code`. */
export function systemError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: operation failed, open '${path}'`), { code });
}

/** What a test changes: return a string to replace the text, `undefined` for "gone", or throw. */
export type PidFileOverride = (pid: number, file: PidFile | 'exe' | 'fd', inner: () => unknown) => unknown;

/** Passes every read through `override`, which may change, drop or fail it. */
export function createOverridingClient(
  inner: ProcessClient,
  override: PidFileOverride,
  extraPids: readonly number[] = [],
): ProcessClient {
  return {
    listPids: () => [...inner.listPids(), ...extraPids],
    readPidFile: (pid, file) => override(pid, file, () => inner.readPidFile(pid, file)) as string | undefined,
    // The override sees and returns text, as for readPidFile.
    readPidBytes: (pid, file) => {
      const text = override(pid, file, () => inner.readPidFile(pid, file)) as string | undefined;
      if (text === undefined) return undefined;
      const bytes = Buffer.from(text, 'utf8');
      return { bytes, length: bytes.length };
    },
    readExecutableName: (pid) =>
      override(pid, 'exe', () => inner.readExecutableName(pid)) as string | undefined,
    countFds: (pid) => override(pid, 'fd', () => inner.countFds(pid)) as number | undefined,
    readProcStat: () => inner.readProcStat(),
    readPasswd: () => inner.readPasswd(),
    readRootFile: (path) => inner.readRootFile(path),
    pageSize: () => inner.pageSize(),
  };
}
