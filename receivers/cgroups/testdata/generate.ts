import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a synthetic host tree of many cgroups (for benchmarks and scale tests), with files in
 * the kernel's formats: `${dir}/sys/fs/cgroup/…`, `${dir}/proc/1/mounts`, one process per
 * container with its own network namespace (`${dir}/proc/PID/ns/net`, `…/net/dev`), and a
 * block device in /sys/dev/block. Point the receiver's `root_path` at `dir`.
 *
 * The tree is a Kubernetes node (systemd driver, containerd): `/kubepods.slice`, its burstable
 * tier, pods of two containers each, and `/system.slice` services for the remainder.
 */

/** Layouts the generator writes: pure v1 (cpu,cpuacct comounted), pure v2, or hybrid (this project's test machines). */
export type GeneratedLayout = 'v1' | 'v2' | 'hybrid';

export interface GenerateOptions {
  /** Total number of cgroups, the root included (at least 5). */
  readonly cgroups: number;
  readonly layout: GeneratedLayout;
}

/** What was written. */
export interface GeneratedTree {
  /** Cgroup paths, parents before children. */
  readonly paths: readonly string[];
  /** Container cgroups (each with a process in its own network namespace). */
  readonly containers: number;
}

const DEVICE = '259:0';
const HOST_NETNS = 4026531840;

/** `length` hex digits derived from `n`, distinct for distinct `n`. */
function hex(n: number, length: number): string {
  return createHash('sha256').update(String(n)).digest('hex').slice(0, length);
}

function uid(n: number): string {
  const h = hex(n + 7, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function write(path: string, text: string): void {
  writeFileSync(path, text);
}

function memoryStatV2(n: number): string {
  const anon = 4096 * (1000 + n * 17);
  const file = 4096 * (500 + n * 11);
  const keys: [string, number][] = [
    ['anon', anon],
    ['file', file],
    ['kernel', 4096 * 90],
    ['kernel_stack', 16384 * 4],
    ['pagetables', 4096 * 30],
    ['sec_pagetables', 0],
    ['percpu', 8 * 1000],
    ['sock', 0],
    ['vmalloc', 0],
    ['shmem', 4096 * 10],
    ['zswap', 0],
    ['zswapped', 0],
    ['file_mapped', 4096 * 200],
    ['file_dirty', 4096],
    ['file_writeback', 0],
    ['swapcached', 0],
    ['anon_thp', 0],
    ['file_thp', 0],
    ['shmem_thp', 0],
    ['inactive_anon', anon - 4096 * 100],
    ['active_anon', 4096 * 110],
    ['inactive_file', file - 4096 * 300],
    ['active_file', 4096 * 290],
    ['unevictable', 0],
    ['slab_reclaimable', 4096 * 20],
    ['slab_unreclaimable', 4096 * 15],
    ['slab', 4096 * 35],
    ['pgfault', 10_000 + n * 31],
    ['pgmajfault', n % 7],
  ];
  return keys.map(([k, v]) => `${k} ${v}\n`).join('');
}

function memoryStatV1(n: number): string {
  const rss = 4096 * (1000 + n * 17);
  const cache = 4096 * (500 + n * 11);
  const own: [string, number][] = [
    ['cache', cache],
    ['rss', rss],
    ['rss_huge', 0],
    ['shmem', 4096 * 10],
    ['mapped_file', 4096 * 200],
    ['dirty', 4096],
    ['writeback', 0],
    ['pgpgin', 3000 + n],
    ['pgpgout', 1000 + n],
    ['pgfault', 10_000 + n * 31],
    ['pgmajfault', n % 7],
    ['inactive_anon', rss - 4096 * 100],
    ['active_anon', 4096 * 110],
    ['inactive_file', cache - 4096 * 300],
    ['active_file', 4096 * 290],
    ['unevictable', 0],
  ];
  return [
    ...own.map(([k, v]) => `${k} ${v}\n`),
    'hierarchical_memory_limit 9223372036854771712\n',
    ...own.map(([k, v]) => `total_${k} ${v}\n`),
  ].join('');
}

function pressure(n: number): string {
  return `some avg10=0.${String(n % 100).padStart(2, '0')} avg60=0.10 avg300=0.05 total=${1000 + n * 13}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=${n * 3}\n`;
}

function netDev(n: number): string {
  const line = (name: string, rx: number, tx: number): string =>
    `${name.padStart(6)}:${String(rx).padStart(8)} ${String(Math.floor(rx / 900)).padStart(7)}    0    0    0     0          0         0 ${String(tx).padStart(8)} ${String(Math.floor(tx / 900)).padStart(7)}    0    0    0     0       0          0\n`;
  return (
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
    line('lo', 0, 0) +
    line('eth0', 100_000 + n * 977, 50_000 + n * 311)
  );
}

/** Writes the files of one cgroup in one hierarchy. */
function writeCgroup(
  dir: string,
  hierarchy: 'v2' | 'cpu' | 'cpuacct' | 'cpu,cpuacct' | 'memory' | 'blkio' | 'pids' | 'unified',
  n: number,
  pid: number | undefined,
  root: boolean,
): void {
  mkdirSync(dir, { recursive: true });
  write(join(dir, 'cgroup.procs'), pid === undefined ? '' : `${pid}\n`);
  const usageUsec = 1_000_000 + n * 12_345;
  if (hierarchy === 'v2' || hierarchy === 'unified') {
    write(
      join(dir, 'cpu.stat'),
      `usage_usec ${usageUsec}\nuser_usec ${Math.floor(usageUsec * 0.7)}\nsystem_usec ${usageUsec - Math.floor(usageUsec * 0.7)}\n${root || hierarchy === 'unified' ? '' : `nr_periods ${n * 10}\nnr_throttled ${n}\nthrottled_usec ${n * 1000}\nnr_bursts 0\nburst_usec 0\n`}`,
    );
    write(join(dir, 'cpu.pressure'), pressure(n));
    write(join(dir, 'memory.pressure'), pressure(n + 1));
    write(join(dir, 'io.pressure'), pressure(n + 2));
  }
  if (hierarchy === 'v2') {
    write(join(dir, 'memory.stat'), memoryStatV2(n));
    write(
      join(dir, 'io.stat'),
      `${DEVICE} rbytes=${4096 * n} wbytes=${8192 * n} rios=${n} wios=${2 * n} dbytes=0 dios=0\n`,
    );
    if (!root) {
      write(join(dir, 'memory.current'), `${4096 * (1590 + n * 28)}\n`);
      write(join(dir, 'memory.max'), n % 3 === 0 ? 'max\n' : `${4096 * 200_000}\n`);
      write(join(dir, 'memory.events'), `low 0\nhigh 0\nmax ${n % 5}\noom 0\noom_kill 0\noom_group_kill 0\n`);
      write(join(dir, 'pids.current'), `${1 + (n % 9)}\n`);
    }
  }
  if (hierarchy === 'cpu' || hierarchy === 'cpu,cpuacct') {
    write(
      join(dir, 'cpu.stat'),
      `nr_periods ${n * 10}\nnr_throttled ${n}\nthrottled_time ${n * 1_000_000}\n`,
    );
  }
  if (hierarchy === 'cpuacct' || hierarchy === 'cpu,cpuacct') {
    write(join(dir, 'cpuacct.usage'), `${usageUsec * 1000}\n`);
    write(
      join(dir, 'cpuacct.stat'),
      `user ${Math.floor(usageUsec / 14_286)}\nsystem ${Math.floor(usageUsec / 33_333)}\n`,
    );
  }
  if (hierarchy === 'memory') {
    write(join(dir, 'memory.usage_in_bytes'), `${4096 * (1590 + n * 28)}\n`);
    write(join(dir, 'memory.limit_in_bytes'), n % 3 === 0 ? '9223372036854771712\n' : `${4096 * 200_000}\n`);
    write(join(dir, 'memory.stat'), memoryStatV1(n));
  }
  if (hierarchy === 'blkio') {
    const rows = (r: number, w: number): string =>
      `${DEVICE} Read ${r}\n${DEVICE} Write ${w}\n${DEVICE} Sync ${w}\n${DEVICE} Async ${r}\n${DEVICE} Discard 0\n${DEVICE} Total ${r + w}\nTotal ${r + w}\n`;
    write(join(dir, 'blkio.throttle.io_service_bytes_recursive'), rows(4096 * n, 8192 * n));
    write(join(dir, 'blkio.throttle.io_serviced_recursive'), rows(n, 2 * n));
  }
  if (hierarchy === 'pids' && !root) write(join(dir, 'pids.current'), `${1 + (n % 9)}\n`);
}

const MOUNTS: Readonly<Record<GeneratedLayout, readonly [string, string][]>> = {
  v2: [
    [
      '/sys/fs/cgroup',
      'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0',
    ],
  ],
  v1: [
    [
      '/sys/fs/cgroup/cpu,cpuacct',
      'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0',
    ],
    [
      '/sys/fs/cgroup/memory',
      'cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0',
    ],
    ['/sys/fs/cgroup/blkio', 'cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,nodev,noexec,relatime,blkio 0 0'],
    ['/sys/fs/cgroup/pids', 'cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0'],
  ],
  hybrid: [
    ['/sys/fs/cgroup/cpu', 'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0'],
    ['/sys/fs/cgroup/cpuacct', 'cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0'],
    ['/sys/fs/cgroup/memory', 'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0'],
    ['/sys/fs/cgroup/blkio', 'cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0'],
    ['/sys/fs/cgroup/pids', 'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0'],
    ['/sys/fs/cgroup/unified', 'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0'],
  ],
};

/** Writes a tree of `options.cgroups` cgroups under `dir` (which should be empty). */
export function generateCgroupTree(dir: string, options: GenerateOptions): GeneratedTree {
  const total = Math.max(5, Math.floor(options.cgroups));
  const paths: { path: string; pid?: number; netns?: number }[] = [
    { path: '/' },
    { path: '/kubepods.slice' },
    { path: '/kubepods.slice/kubepods-burstable.slice' },
    { path: '/system.slice' },
  ];
  const burstable = '/kubepods.slice/kubepods-burstable.slice';
  let pod = 0;
  let containers = 0;
  while (paths.length + 3 <= total && pod < Math.floor((total - 4) * 0.9) / 3) {
    const podPath = `${burstable}/kubepods-burstable-pod${uid(pod).replaceAll('-', '_')}.slice`;
    paths.push({ path: podPath });
    for (let c = 0; c < 2; c++) {
      containers += 1;
      // The containers of a pod share its network namespace.
      paths.push({
        path: `${podPath}/cri-containerd-${hex(pod * 2 + c + 1, 64)}.scope`,
        pid: 10_000 + containers,
        netns: HOST_NETNS + 1 + pod,
      });
    }
    pod += 1;
  }
  for (let s = 0; paths.length < total; s++)
    paths.push({ path: `/system.slice/service-${s}.service`, pid: 50_000 + s, netns: HOST_NETNS });

  const hierarchies = MOUNTS[options.layout];
  mkdirSync(join(dir, 'proc/1/ns'), { recursive: true });
  write(
    join(dir, 'proc/1/mounts'),
    `proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n${hierarchies.map(([, line]) => `${line}\n`).join('')}`,
  );
  symlinkSync(`net:[${HOST_NETNS}]`, join(dir, 'proc/1/ns/net'));
  mkdirSync(join(dir, `sys/dev/block/${DEVICE}`), { recursive: true });
  write(join(dir, `sys/dev/block/${DEVICE}/uevent`), 'MAJOR=259\nMINOR=0\nDEVNAME=nvme0n1\nDEVTYPE=disk\n');

  paths.forEach(({ path, pid, netns }, n) => {
    for (const [mount] of hierarchies) {
      const name = mount.slice('/sys/fs/cgroup/'.length);
      const kind = options.layout === 'v2' ? 'v2' : (name as Parameters<typeof writeCgroup>[1]);
      writeCgroup(join(dir, mount, path), kind, n, pid, path === '/');
    }
    if (pid !== undefined && netns !== undefined) {
      mkdirSync(join(dir, `proc/${pid}/ns`), { recursive: true });
      mkdirSync(join(dir, `proc/${pid}/net`), { recursive: true });
      symlinkSync(`net:[${netns}]`, join(dir, `proc/${pid}/ns/net`));
      write(join(dir, `proc/${pid}/net/dev`), netDev(n));
    }
  });
  return { paths: paths.map((p) => p.path), containers };
}
