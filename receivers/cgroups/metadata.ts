import type { MetricMetadata, ReceiverMetadata } from '../../kit/metadata.ts';

/**
 * Attributes naming the cgroup a point belongs to. Every point of a cgroup carries
 * `cgroup.path` and `inframeter.cgroups.kind`; the others are present when the path (or the
 * Kubernetes API) says so.
 */
export const IDENTITY_ATTRIBUTES = [
  'cgroup.path',
  'inframeter.cgroups.kind',
  'container.id',
  'container.runtime.name',
  'k8s.pod.uid',
  'k8s.pod.name',
  'k8s.namespace.name',
  'k8s.container.name',
  'inframeter.cgroups.k8s.qos_class',
  'inframeter.cgroups.systemd.unit',
  'inframeter.cgroups.job.scheduler',
  'inframeter.cgroups.job.id',
  'inframeter.cgroups.job.user',
  'inframeter.cgroups.job.step',
] as const;

function metric(
  name: string,
  instrument: MetricMetadata['instrument'],
  unit: string,
  group: string,
  description: string,
  attributes: readonly string[] = [],
  enabled = true,
): MetricMetadata {
  return {
    name,
    instrument,
    unit,
    group,
    description,
    attributes: [...IDENTITY_ATTRIBUTES, ...attributes],
    enabled,
  };
}

const PRESSURE = ['inframeter.cgroups.pressure.resource', 'inframeter.cgroups.pressure.scope'];

/** The `cgroups` receiver's catalogue. */
export const metadata: ReceiverMetadata = {
  type: 'cgroups',
  stability: 'alpha',
  metrics: [
    metric(
      'container.cpu.time',
      'counter',
      's',
      'cpu',
      'CPU time by mode: v2 cpu.stat user_usec/system_usec; v1 cpuacct.stat (USER_HZ).',
      ['cpu.mode'],
    ),
    metric(
      'container.cpu.usage',
      'gauge',
      '{cpu}',
      'cpu',
      'CPUs used on average since the previous scrape (v2 usage_usec, v1 cpuacct.usage); from the second scrape of a cgroup.',
    ),
    metric(
      'inframeter.cgroups.cpu.periods',
      'counter',
      '{period}',
      'cpu',
      'CFS enforcement periods elapsed while a quota is set (cpu.stat nr_periods).',
    ),
    metric(
      'inframeter.cgroups.cpu.throttled_periods',
      'counter',
      '{period}',
      'cpu',
      'Periods in which the cgroup was throttled (cpu.stat nr_throttled).',
    ),
    metric(
      'inframeter.cgroups.cpu.throttled_time',
      'counter',
      's',
      'cpu',
      'Time the cgroup was throttled (v2 throttled_usec, v1 throttled_time).',
    ),
    metric(
      'container.memory.usage',
      'updowncounter',
      'By',
      'memory',
      'Memory charged to the cgroup and its descendants (v2 memory.current, v1 memory.usage_in_bytes).',
    ),
    metric(
      'container.memory.working_set',
      'updowncounter',
      'By',
      'memory',
      'Usage minus inactive file pages, as the kubelet and cAdvisor count it.',
    ),
    metric(
      'container.memory.rss',
      'updowncounter',
      'By',
      'memory',
      'Anonymous memory (v2 memory.stat anon, v1 total_rss).',
    ),
    metric(
      'container.memory.available',
      'updowncounter',
      'By',
      'memory',
      'Limit minus working set; only for cgroups with a memory limit.',
    ),
    metric(
      'container.memory.paging.faults',
      'counter',
      '{fault}',
      'memory',
      'Page faults: major (pgmajfault) and minor (pgfault minus pgmajfault).',
      ['system.paging.fault.type'],
    ),
    metric(
      'inframeter.cgroups.memory.limit',
      'updowncounter',
      'By',
      'memory',
      'Memory limit (v2 memory.max, v1 memory.limit_in_bytes); only when a limit is set.',
    ),
    metric(
      'inframeter.cgroups.memory.file',
      'updowncounter',
      'By',
      'memory',
      'Page cache (v2 memory.stat file, v1 total_cache).',
    ),
    metric(
      'inframeter.cgroups.memory.shmem',
      'updowncounter',
      'By',
      'memory',
      'Shared memory and tmpfs pages (v2 shmem, v1 total_shmem).',
    ),
    metric(
      'inframeter.cgroups.memory.file_mapped',
      'updowncounter',
      'By',
      'memory',
      'Page cache mapped into processes (v2 file_mapped, v1 total_mapped_file).',
    ),
    metric(
      'inframeter.cgroups.memory.lru',
      'updowncounter',
      'By',
      'memory',
      'Memory on each LRU list (active/inactive anon and file, unevictable); the lists do not overlap.',
      ['inframeter.cgroups.memory.lru'],
    ),
    metric(
      'inframeter.cgroups.memory.page_charges',
      'counter',
      '{page}',
      'memory',
      'Pages charged to (in) and uncharged from (out) the cgroup (v1 total_pgpgin, total_pgpgout).',
      ['inframeter.cgroups.memory.charge.direction'],
    ),
    metric(
      'inframeter.cgroups.memory.events',
      'counter',
      '{event}',
      'memory',
      'Memory events (v2 memory.events: low, high, max, oom, oom_kill, oom_group_kill).',
      ['inframeter.cgroups.memory.event'],
    ),
    metric(
      'container.disk.io',
      'counter',
      'By',
      'disk',
      'Bytes read, written and discarded per device (v2 io.stat, v1 blkio.throttle.io_service_bytes).',
      ['disk.io.direction', 'system.device'],
    ),
    metric(
      'inframeter.cgroups.disk.operations',
      'counter',
      '{operation}',
      'disk',
      'Read, write and discard operations per device (v2 io.stat, v1 blkio.throttle.io_serviced).',
      ['disk.io.direction', 'system.device'],
    ),
    metric(
      'inframeter.cgroups.task.count',
      'updowncounter',
      '{task}',
      'pids',
      'Tasks (processes and threads) in the cgroup and its descendants (pids.current).',
    ),
    metric(
      'inframeter.cgroups.pressure.stall.time',
      'counter',
      's',
      'pressure',
      'Time some or all tasks were stalled on a resource (PSI total, cgroup v2).',
      PRESSURE,
    ),
    metric(
      'inframeter.cgroups.pressure.stall.ratio',
      'gauge',
      '1',
      'pressure',
      'Share of time stalled over the last 10, 60 and 300 seconds (PSI avg10/60/300 ÷ 100).',
      [...PRESSURE, 'inframeter.cgroups.pressure.window'],
    ),
    metric(
      'container.network.io',
      'counter',
      'By',
      'network',
      "Bytes received and sent per interface of the cgroup's network namespace (/proc/PID/net/dev).",
      ['network.interface.name', 'network.io.direction'],
    ),
    metric(
      'inframeter.cgroups.network.packet.count',
      'counter',
      '{packet}',
      'network',
      "Packets received and sent per interface of the cgroup's network namespace.",
      ['network.interface.name', 'network.io.direction'],
    ),
    {
      name: 'inframeter.cgroups.selected',
      instrument: 'gauge',
      unit: '{cgroup}',
      group: 'cgroups',
      description:
        'Cgroups selected in the last scrape: exported, over the max_cgroups cap, or gone while being read.',
      attributes: ['inframeter.cgroups.selection'],
      enabled: true,
    },
  ],
  attributes: {
    'cgroup.path':
      'Path of the cgroup below its hierarchy root (`/kubepods.slice/…/cri-containerd-<id>.scope`).',
    'inframeter.cgroups.kind':
      'What the path says the cgroup is: `root`, `kubepods`, `qos`, `pod`, `container`, `job`, `step`, `task`, `slice`, `service`, `scope` or `other`.',
    'container.id': 'Full container id (64 hex digits) from the path.',
    'container.runtime.name':
      '`docker`, `containerd`, `cri-o` or `podman`, from the path (or the pod status when the path does not say).',
    'k8s.pod.uid': 'Pod UID from the path.',
    'k8s.pod.name': 'Pod name (Kubernetes API, when `kubernetes.enabled`).',
    'k8s.namespace.name': 'Pod namespace (Kubernetes API, when `kubernetes.enabled`).',
    'k8s.container.name': 'Container name in the pod spec (Kubernetes API, when `kubernetes.enabled`).',
    'inframeter.cgroups.k8s.qos_class': '`Guaranteed`, `Burstable` or `BestEffort`, from the path.',
    'inframeter.cgroups.systemd.unit':
      'The systemd unit (`.slice`, `.service`, `.scope`) the cgroup is or is inside.',
    'inframeter.cgroups.job.scheduler': '`slurm` or `oar`.',
    'inframeter.cgroups.job.id': 'Batch job id from the path.',
    'inframeter.cgroups.job.user':
      'Job owner: the uid for Slurm on cgroup v1 (`uid_<U>`), the login for OAR.',
    'inframeter.cgroups.job.step': 'Slurm step: a number, `batch`, `extern` or `interactive`.',
    'cpu.mode': '`user` or `system`.',
    'system.paging.fault.type': '`major` or `minor`.',
    'inframeter.cgroups.memory.lru':
      '`active_anon`, `inactive_anon`, `active_file`, `inactive_file`, `unevictable`.',
    'inframeter.cgroups.memory.charge.direction': '`in` (pgpgin) or `out` (pgpgout).',
    'inframeter.cgroups.memory.event':
      'Key of memory.events: `low`, `high`, `max`, `oom`, `oom_kill`, `oom_group_kill`.',
    'disk.io.direction': '`read`, `write` or `discard` (a custom value the convention allows).',
    'system.device': 'Block device name from /sys/dev/block/MAJ:MIN/uevent, or `MAJ:MIN` when unknown.',
    'inframeter.cgroups.pressure.resource': '`cpu`, `memory` or `io`.',
    'inframeter.cgroups.pressure.scope':
      '`some` (at least one task stalled) or `full` (all non-idle tasks stalled).',
    'inframeter.cgroups.pressure.window': '`10s`, `60s` or `300s`.',
    'network.interface.name': 'Interface name in the namespace (`eth0`, `lo`).',
    'network.io.direction': '`receive` or `transmit`.',
    'inframeter.cgroups.selection':
      '`exported`, `over_limit` (beyond `max_cgroups`) or `vanished` (removed during the scrape).',
  },
};

/** The metrics of a group. */
export function metricsOfGroup(group: string): MetricMetadata[] {
  return metadata.metrics.filter((m) => m.group === group);
}
