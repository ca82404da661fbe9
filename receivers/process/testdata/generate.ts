import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a synthetic root (`proc/`, `etc/passwd`) with many processes, in the shapes the
 * kernel gives them, for benchmarks and scale tests of the process receiver:
 * `root_path: <dir>` reads it like a host's /proc.
 */

/** Options of {@link generateProcTree}. */
export interface ProcTreeOptions {
  /** How many processes (pids 1000, 1001, …; one in twenty is a kernel thread). */
  readonly processes: number;
  /** Seed of the deterministic generator; the same seed writes the same tree. */
  readonly seed?: number;
  /** Boot time written to proc/stat, in seconds since the epoch. */
  readonly bootTime?: number;
}

/** What was written. */
export interface ProcTree {
  readonly pids: readonly number[];
  readonly bootTime: number;
}

/** A small linear congruential generator: deterministic, good enough to spread values. */
function createRandom(seed: number): (max: number) => number {
  let state = seed >>> 0;
  return (max) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % max;
  };
}

const PROGRAMS = ['nginx', 'postgres', 'python3.11', 'java', 'node', 'sshd', 'bash', 'redis-server'];
const USERS = [
  [0, 'root'],
  [33, 'www-data'],
  [107, 'postgres'],
  [1000, 'alice'],
  [1001, 'bob'],
] as const;

function hex64(random: (max: number) => number): string {
  let out = '';
  for (let i = 0; i < 64; i++) out += (random(16)).toString(16);
  return out;
}

/** A `/proc/<pid>/stat` line with 52 fields. */
function statLine(fields: {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  minflt: number;
  majflt: number;
  utime: number;
  stime: number;
  threads: number;
  starttime: number;
  vsize: number;
  rss: number;
}): string {
  const f = fields;
  return (
    `${f.pid} (${f.comm}) ${f.state} ${f.ppid} ${f.pid} ${f.pid} 0 -1 4194560 ${f.minflt} 0 ${f.majflt} 0 ` +
    `${f.utime} ${f.stime} 0 0 20 0 ${f.threads} 0 ${f.starttime} ${f.vsize} ${f.rss} 18446744073709551615 ` +
    `${'0 '.repeat(17)}0 0 0 0 0 0 0 0 0 0 0\n`
  );
}

/** Writes the tree under `dir` (which must exist or be creatable). */
export function generateProcTree(dir: string, options: ProcTreeOptions): ProcTree {
  const random = createRandom(options.seed ?? 1);
  const bootTime = options.bootTime ?? 1_700_000_000;
  mkdirSync(join(dir, 'proc'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    USERS.map(([uid, name]) => `${name}:x:${uid}:${uid}::/home/${name}:/bin/sh\n`).join(''),
  );
  const cpuLine = 'cpu  1000 0 500 90000 20 0 10 0 0 0\n';
  writeFileSync(
    join(dir, 'proc', 'stat'),
    `${cpuLine}cpu0 1000 0 500 90000 20 0 10 0 0 0\nintr 0\nctxt 1000\nbtime ${bootTime}\nprocesses ${options.processes}\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n`,
  );
  const pids: number[] = [];
  for (let i = 0; i < options.processes; i++) {
    const pid = 1000 + i;
    pids.push(pid);
    const base = join(dir, 'proc', String(pid));
    mkdirSync(join(base, 'fd'), { recursive: true });
    const kernelThread = i % 20 === 0;
    const program = PROGRAMS[random(PROGRAMS.length)] ?? 'bash';
    const comm = kernelThread ? `kworker/${i % 4}:${i % 7}` : program.slice(0, 15);
    const [uid] = kernelThread ? USERS[0] : (USERS[random(USERS.length)] ?? USERS[0]);
    const rss = kernelThread ? 0 : 200 + random(200_000);
    const utime = random(100_000);
    const stime = random(20_000);
    const starttime = 100 + random(10_000_000);
    writeFileSync(
      join(base, 'stat'),
      statLine({
        pid,
        comm,
        state: kernelThread ? 'I' : 'S',
        ppid: kernelThread ? 2 : 1 + random(Math.max(1, i)),
        minflt: random(1_000_000),
        majflt: random(1000),
        utime,
        stime,
        threads: kernelThread ? 1 : 1 + random(64),
        starttime,
        vsize: kernelThread ? 0 : rss * 4096 * (2 + random(8)),
        rss,
      }),
    );
    writeFileSync(
      join(base, 'statm'),
      kernelThread ? '0 0 0 0 0 0 0\n' : `${rss * 3} ${rss} ${Math.floor(rss / 3)} ${1 + random(5000)} 0 ${Math.floor(rss / 2)} 0\n`,
    );
    writeFileSync(
      join(base, 'status'),
      `Name:\t${comm}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t${pid}\nPid:\t${pid}\n` +
        `Uid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nKthread:\t${kernelThread ? 1 : 0}\n` +
        (kernelThread ? '' : `VmSize:\t${rss * 12} kB\nVmRSS:\t${rss * 4} kB\nVmSwap:\t${random(1000)} kB\n`) +
        `Threads:\t1\nCpus_allowed_list:\t0-1\nvoluntary_ctxt_switches:\t${random(100_000)}\nnonvoluntary_ctxt_switches:\t${random(10_000)}\n`,
    );
    writeFileSync(
      join(base, 'io'),
      `rchar: ${random(1e9)}\nwchar: ${random(1e9)}\nsyscr: ${random(1e6)}\nsyscw: ${random(1e6)}\n` +
        `read_bytes: ${random(1e9)}\nwrite_bytes: ${random(1e9)}\ncancelled_write_bytes: 0\n`,
    );
    const container = !kernelThread && i % 3 === 0;
    writeFileSync(
      join(base, 'cgroup'),
      container ? `0::/system.slice/docker-${hex64(random)}.scope\n` : `0::/system.slice/${program}.service\n`,
    );
    writeFileSync(join(base, 'cmdline'), kernelThread ? '' : `/usr/bin/${program}\0--worker\0${i}\0`);
    if (!kernelThread) symlinkSync(`/usr/bin/${program}`, join(base, 'exe'));
    const fds = kernelThread ? 0 : 3 + random(8);
    for (let fd = 0; fd < fds; fd++) writeFileSync(join(base, 'fd', String(fd)), '');
  }
  return { pids, bootTime };
}
