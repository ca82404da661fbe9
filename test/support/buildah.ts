import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Container images without a Docker engine: Debian's buildah with the vfs storage driver
 * (no overlay mounts needed) and chroot isolation (no user namespaces; the host's network,
 * so a server inside is reached on 127.0.0.1).
 */
const STORAGE = ['--storage-driver', 'vfs'];

/** What a finished command printed and how it ended. */
export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end without blocking the event loop (a build takes minutes).
 * Past `timeoutMs` the command is killed by its PID and the outcome says so.
 */
export function execute(command: string, args: readonly string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      stderr += `\n${command}: killed after ${String(timeoutMs)} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** `buildah --storage-driver vfs ARGS`. */
export function buildah(args: readonly string[], timeoutMs = 120_000): Promise<Outcome> {
  return execute('buildah', [...STORAGE, ...args], timeoutMs);
}

/** `podman --storage-driver vfs ARGS` (same image store as buildah's). */
export function podman(args: readonly string[], timeoutMs = 120_000): Promise<Outcome> {
  return execute('podman', [...STORAGE, ...args], timeoutMs);
}

/** Options of a command run inside a working container. */
export interface RunOptions {
  /** Host directory → path inside, bind-mounted for the command. */
  volumes?: Record<string, string>;
  env?: Record<string, string>;
}

function runArgs(container: string, command: readonly string[], options: RunOptions): string[] {
  const args = [...STORAGE, 'run', '--isolation', 'chroot'];
  for (const [host, inside] of Object.entries(options.volumes ?? {}))
    args.push('--volume', `${host}:${inside}`);
  for (const [name, value] of Object.entries(options.env ?? {})) args.push('--env', `${name}=${value}`);
  return [...args, container, '--', ...command];
}

/** Runs `command` inside `container` (as the image's user) to its end. */
export function runIn(
  container: string,
  command: readonly string[],
  options: RunOptions = {},
  timeoutMs = 120_000,
): Promise<Outcome> {
  return execute('buildah', runArgs(container, command, options), timeoutMs);
}

/** Starts `command` inside `container` and returns at once (a server); the caller stops it. */
export function startIn(
  container: string,
  command: readonly string[],
  options: RunOptions = {},
): ChildProcess {
  return spawn('buildah', runArgs(container, command, options), { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The PIDs of the processes under `root` (children, grandchildren…) whose program (the
 * base name of argv[0]) is `program`, nearest first. A command started by `buildah run` runs
 * a few levels below the buildah process, in the host's PID namespace: this finds it to
 * signal it by its own PID. (Node names its main thread `MainThread`, so /proc/PID/comm
 * would not do.)
 */
export function descendantsRunning(root: number, program: string): number[] {
  const table = new Map<number, { ppid: number; argv0: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] ?? '';
      table.set(Number(entry), { ppid, argv0: argv0.slice(argv0.lastIndexOf('/') + 1) });
    } catch {
      // The process ended while the table was read.
    }
  }
  const depth = (pid: number): number | undefined => {
    let level = 0;
    for (let at = pid; at > 1 && level < 64; level += 1) {
      if (at === root) return level;
      const parent = table.get(at)?.ppid;
      if (parent === undefined) return undefined;
      at = parent;
    }
    return undefined;
  };
  return [...table.entries()]
    .filter(([pid, { argv0 }]) => argv0 === program && pid !== root)
    .map(([pid]) => ({ pid, level: depth(pid) }))
    .filter((p): p is { pid: number; level: number } => p.level !== undefined)
    .sort((a, b) => a.level - b.level)
    .map((p) => p.pid);
}
