import type { MetricMetadata, ReceiverMetadata } from '../../kit/metadata.ts';

/** Data point attributes that identify a process on every per-process metric. */
export const IDENTITY_ATTRIBUTES = [
  'process.pid',
  'process.parent_pid',
  'process.executable.name',
  'process.command',
  'process.owner',
] as const;

const identity = (...specific: string[]): string[] => [...IDENTITY_ATTRIBUTES, ...specific];

/**
 * The metrics of the `process` receiver. `group` names the file each one needs: a file whose
 * metrics are all switched off is not read at all.
 */
export const processMetadata = {
  type: 'process',
  stability: 'alpha',
  metrics: [
    {
      name: 'process.cpu.time',
      instrument: 'counter',
      unit: 's',
      description:
        'CPU time of the process: `user` (utime), `system` (stime) and `wait` (delayacct_blkio_ticks: time waiting for block I/O, 0 unless delay accounting is on).',
      attributes: identity('cpu.mode'),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'inframeter.process.children.cpu.time',
      instrument: 'counter',
      unit: 's',
      description:
        'CPU time of the children the process has waited for (cutime, cstime), by `cpu.mode` `user` and `system`. Kept apart from `process.cpu.time` so that summing its modes never counts a child twice.',
      attributes: identity('cpu.mode'),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'process.cpu.utilization',
      instrument: 'gauge',
      unit: '1',
      description:
        'Difference in `process.cpu.time` since the previous scrape, divided by the elapsed time and by the number of CPUs the process may run on (Cpus_allowed_list). From the second scrape that sees the process.',
      attributes: identity('cpu.mode'),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'process.memory.usage',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Resident set size (statm resident).',
      attributes: identity(),
      group: 'statm',
      enabled: true,
    },
    {
      name: 'process.memory.virtual',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Virtual memory size (stat vsize).',
      attributes: identity(),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'inframeter.process.memory.shared',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Resident shared memory: file-backed pages and shared memory (statm shared).',
      attributes: identity(),
      group: 'statm',
      enabled: true,
    },
    {
      name: 'inframeter.process.memory.text',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Size of the program code (statm text).',
      attributes: identity(),
      group: 'statm',
      enabled: true,
    },
    {
      name: 'inframeter.process.memory.data',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Size of data and stack (statm data).',
      attributes: identity(),
      group: 'statm',
      enabled: true,
    },
    {
      name: 'inframeter.process.memory.swap',
      instrument: 'updowncounter',
      unit: 'By',
      description: 'Anonymous memory swapped out (status VmSwap); absent for kernel threads.',
      attributes: identity(),
      group: 'status',
      enabled: true,
    },
    {
      name: 'process.disk.io',
      instrument: 'counter',
      unit: 'By',
      description:
        'Bytes the process caused to be read from or written to storage (io read_bytes, write_bytes).',
      attributes: identity('disk.io.direction'),
      group: 'io',
      enabled: true,
    },
    {
      name: 'inframeter.process.io.syscalls',
      instrument: 'counter',
      unit: '{syscall}',
      description:
        'Read and write system calls, on files, pipes, sockets or terminals alike (io syscr, syscw).',
      attributes: identity('disk.io.direction'),
      group: 'io',
      enabled: true,
    },
    {
      name: 'inframeter.process.io.chars',
      instrument: 'counter',
      unit: 'By',
      description:
        'Bytes passed through read and write system calls, whether or not they reached storage (io rchar, wchar).',
      attributes: identity('disk.io.direction'),
      group: 'io',
      enabled: true,
    },
    {
      name: 'process.thread.count',
      instrument: 'updowncounter',
      unit: '{thread}',
      description: 'Threads of the process (stat num_threads).',
      attributes: identity(),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'process.unix.file_descriptor.count',
      instrument: 'updowncounter',
      unit: '{file_descriptor}',
      description: 'Open file descriptors (entries of `/proc/<pid>/fd/`).',
      attributes: identity(),
      group: 'fd',
      enabled: true,
    },
    {
      name: 'process.context_switches',
      instrument: 'counter',
      unit: '{context_switch}',
      description: 'Context switches (status voluntary_ctxt_switches, nonvoluntary_ctxt_switches).',
      attributes: identity('process.context_switch.type'),
      group: 'status',
      enabled: true,
    },
    {
      name: 'process.paging.faults',
      instrument: 'counter',
      unit: '{fault}',
      description: 'Page faults: `minor` (no disk read) and `major` (stat minflt, majflt).',
      attributes: identity('system.paging.fault.type'),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'process.uptime',
      instrument: 'gauge',
      unit: 's',
      description: 'Time since the process started (stat starttime and the boot time of /proc/stat).',
      attributes: identity(),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'inframeter.process.start_time',
      instrument: 'gauge',
      unit: 's',
      description:
        'When the process started, in seconds since the Unix epoch (stat starttime after the boot time of /proc/stat); a new value for the same pid means a new process.',
      attributes: identity(),
      group: 'stat',
      enabled: true,
    },
    {
      name: 'inframeter.process.listed',
      instrument: 'updowncounter',
      unit: '{process}',
      description: 'Processes on the host (entries of /proc read in the scrape), selected or not.',
      attributes: [],
      group: 'proc',
      enabled: true,
    },
    {
      name: 'inframeter.process.access_denied',
      instrument: 'gauge',
      unit: '{process}',
      description:
        'Selected processes whose file could not be read for lack of privileges in the last scrape (their other metrics are still reported).',
      attributes: ['inframeter.process.file'],
      group: 'proc',
      enabled: true,
    },
  ] satisfies MetricMetadata[],
  attributes: {
    'process.pid': 'Process id (the directory name under /proc).',
    'process.parent_pid': 'Parent process id (stat ppid).',
    'process.executable.name':
      "Base name of the `/proc/<pid>/exe` link target; the command name (stat comm) when the link cannot be read (kernel threads, zombies, other users' processes without privileges).",
    'process.command':
      'The first argument of `/proc/<pid>/cmdline` (argv[0], or the whole string when the process rewrote its arguments); the command name (stat comm) when it has none (kernel threads, zombies).',
    'process.owner':
      'User name of the real uid (status Uid), from `<root_path>/etc/passwd`; the uid as a number when it has no entry.',
    'process.command_line':
      'Arguments of `/proc/<pid>/cmdline` joined by spaces; only with `command_line: true` (it can carry secrets).',
    'cpu.mode':
      '`user`, `system`, `wait` (process.cpu.time, process.cpu.utilization); `user`, `system` (children).',
    'disk.io.direction': '`read` or `write`.',
    'process.context_switch.type': '`voluntary` or `involuntary`.',
    'system.paging.fault.type': '`minor` or `major`.',
    'inframeter.process.file': 'The file that was denied: `io`, `fd` or `exe`.',
  },
} as const satisfies ReceiverMetadata;

/** A metric name of this receiver. */
export type ProcessMetricName = (typeof processMetadata.metrics)[number]['name'];

/** Every metric name, in catalogue order. */
export const PROCESS_METRIC_NAMES: readonly ProcessMetricName[] = processMetadata.metrics.map((m) => m.name);
