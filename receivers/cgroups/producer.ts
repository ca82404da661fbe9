import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { MetricMetadata } from '../../kit/metadata.ts';
import type { ProducedMetric } from '../../kit/snapshot-producer.ts';
import { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import type { AttributeTree } from './attribute-tree.ts';
import { metadata } from './metadata.ts';
import type { Snapshot } from './snapshot.ts';
import type { CgroupStats } from './stats.ts';

/**
 * Publishes the cgroups snapshot through an SDK metric producer (see
 * kit/snapshot-producer.ts: a thousand cgroups make some 60,000 series a scrape, which
 * observable instruments would spend most of the scrape's CPU on). Each series' attribute
 * object is built once and kept while its cgroup's identity attributes stay the same.
 */

/** Units whose values are fractional. */
const DOUBLE_UNITS = new Set(['s', '1', '{cpu}']);
const WINDOWS = [
  ['avg10', '10s'],
  ['avg60', '60s'],
  ['avg300', '300s'],
] as const;
const SCOPES = ['some', 'full'] as const;

const SELECTIONS = (['exported', 'over_limit', 'vanished'] as const).map(
  (selection) => [selection, { 'inframeter.cgroups.selection': selection }] as const,
);

/** The enabled metrics, looked up once. */
interface Handles {
  readonly cpuTime: ProducedMetric | undefined;
  readonly cpuUsage: ProducedMetric | undefined;
  readonly periods: ProducedMetric | undefined;
  readonly throttledPeriods: ProducedMetric | undefined;
  readonly throttledTime: ProducedMetric | undefined;
  readonly memoryUsage: ProducedMetric | undefined;
  readonly workingSet: ProducedMetric | undefined;
  readonly rss: ProducedMetric | undefined;
  readonly available: ProducedMetric | undefined;
  readonly faults: ProducedMetric | undefined;
  readonly limit: ProducedMetric | undefined;
  readonly file: ProducedMetric | undefined;
  readonly shmem: ProducedMetric | undefined;
  readonly fileMapped: ProducedMetric | undefined;
  readonly lru: ProducedMetric | undefined;
  readonly pageCharges: ProducedMetric | undefined;
  readonly memoryEvents: ProducedMetric | undefined;
  readonly diskIo: ProducedMetric | undefined;
  readonly diskOps: ProducedMetric | undefined;
  readonly tasks: ProducedMetric | undefined;
  readonly stallTime: ProducedMetric | undefined;
  readonly stallRatio: ProducedMetric | undefined;
  readonly networkIo: ProducedMetric | undefined;
  readonly packets: ProducedMetric | undefined;
  readonly count: ProducedMetric | undefined;
}

function handles(producer: SnapshotProducer): Handles {
  const m = (name: string): ProducedMetric | undefined => producer.metric(name);
  return {
    cpuTime: m('container.cpu.time'),
    cpuUsage: m('container.cpu.usage'),
    periods: m('inframeter.cgroups.cpu.periods'),
    throttledPeriods: m('inframeter.cgroups.cpu.throttled_periods'),
    throttledTime: m('inframeter.cgroups.cpu.throttled_time'),
    memoryUsage: m('container.memory.usage'),
    workingSet: m('container.memory.working_set'),
    rss: m('container.memory.rss'),
    available: m('container.memory.available'),
    faults: m('container.memory.paging.faults'),
    limit: m('inframeter.cgroups.memory.limit'),
    file: m('inframeter.cgroups.memory.file'),
    shmem: m('inframeter.cgroups.memory.shmem'),
    fileMapped: m('inframeter.cgroups.memory.file_mapped'),
    lru: m('inframeter.cgroups.memory.lru'),
    pageCharges: m('inframeter.cgroups.memory.page_charges'),
    memoryEvents: m('inframeter.cgroups.memory.events'),
    diskIo: m('container.disk.io'),
    diskOps: m('inframeter.cgroups.disk.operations'),
    tasks: m('inframeter.cgroups.task.count'),
    stallTime: m('inframeter.cgroups.pressure.stall.time'),
    stallRatio: m('inframeter.cgroups.pressure.stall.ratio'),
    networkIo: m('container.network.io'),
    packets: m('inframeter.cgroups.network.packet.count'),
    count: m('inframeter.cgroups.selected'),
  };
}

function observe(
  metric: ProducedMetric | undefined,
  value: number | undefined,
  attributes: Attributes,
): void {
  if (metric !== undefined && value !== undefined) metric.observe(value, attributes);
}

/** Records `value` in the series of `metric` held by `node`. */
function record(metric: ProducedMetric | undefined, value: number | undefined, node: AttributeTree): void {
  if (metric !== undefined && value !== undefined) metric.record(node.series(metric), value);
}

/** The producer of the enabled metrics; its callback reads `snapshot()` at collection time. */
export function createProducer(
  metrics: readonly MetricMetadata[],
  snapshot: () => Snapshot,
): SnapshotProducer {
  const enabled = new Set(metrics.map((m) => m.name));
  let h: Handles | undefined;
  const producer = new SnapshotProducer(
    'inframeter/receiver/cgroups',
    metadata.metrics,
    (m) => enabled.has(m.name),
    (p) => {
      h ??= handles(p);
      const current = snapshot();
      for (const cgroup of current.cgroups) observeCgroup(h, cgroup.series, cgroup.stats);
      if (current.layout !== undefined) {
        for (const [selection, attributes] of SELECTIONS)
          observe(h.count, current.counts[selection], attributes);
      }
    },
    (m) => (DOUBLE_UNITS.has(m.unit) ? ValueType.DOUBLE : ValueType.INT),
  );
  return producer;
}

function observeCgroup(h: Handles, tree: AttributeTree, stats: CgroupStats): void {
  const { cpu, memory } = stats;
  if (h.cpuTime !== undefined) {
    record(h.cpuTime, cpu.userSec, tree.with('cpu.mode', 'user'));
    record(h.cpuTime, cpu.systemSec, tree.with('cpu.mode', 'system'));
  }
  record(h.cpuUsage, stats.cpuUsage, tree);
  record(h.periods, cpu.periods, tree);
  record(h.throttledPeriods, cpu.throttledPeriods, tree);
  record(h.throttledTime, cpu.throttledSec, tree);

  record(h.memoryUsage, memory.usage, tree);
  record(h.workingSet, memory.workingSet, tree);
  record(h.rss, memory.rss, tree);
  record(h.available, memory.available, tree);
  if (h.faults !== undefined) {
    record(h.faults, memory.majorFaults, tree.with('system.paging.fault.type', 'major'));
    record(h.faults, memory.minorFaults, tree.with('system.paging.fault.type', 'minor'));
  }
  record(h.limit, memory.limit, tree);
  record(h.file, memory.file, tree);
  record(h.shmem, memory.shmem, tree);
  record(h.fileMapped, memory.fileMapped, tree);
  if (h.lru !== undefined) {
    for (const [list, bytes] of memory.lru)
      record(h.lru, bytes, tree.with('inframeter.cgroups.memory.lru', list));
  }
  if (h.pageCharges !== undefined) {
    const charge = 'inframeter.cgroups.memory.charge.direction';
    record(h.pageCharges, memory.pgpgin, tree.with(charge, 'in'));
    record(h.pageCharges, memory.pgpgout, tree.with(charge, 'out'));
  }
  if (h.memoryEvents !== undefined) {
    for (const [event, count] of memory.events)
      record(h.memoryEvents, count, tree.with('inframeter.cgroups.memory.event', event));
  }

  if (h.diskIo !== undefined || h.diskOps !== undefined) {
    for (const disk of stats.disk) {
      const read = tree.with('disk.io.direction', 'read').with('system.device', disk.device);
      const write = tree.with('disk.io.direction', 'write').with('system.device', disk.device);
      const discard = tree.with('disk.io.direction', 'discard').with('system.device', disk.device);
      record(h.diskIo, disk.readBytes, read);
      record(h.diskIo, disk.writeBytes, write);
      record(h.diskIo, disk.discardBytes, discard);
      record(h.diskOps, disk.readOps, read);
      record(h.diskOps, disk.writeOps, write);
      record(h.diskOps, disk.discardOps, discard);
    }
  }
  record(h.tasks, stats.tasks, tree);

  if (h.stallTime !== undefined || h.stallRatio !== undefined) {
    for (const { resource, pressure } of stats.pressure) {
      const byResource = tree.with('inframeter.cgroups.pressure.resource', resource);
      for (const scope of SCOPES) {
        const line = pressure[scope];
        if (line === undefined) continue;
        const byScope = byResource.with('inframeter.cgroups.pressure.scope', scope);
        record(h.stallTime, line.totalUsec / 1e6, byScope);
        if (h.stallRatio === undefined) continue;
        for (const [key, window] of WINDOWS) {
          record(h.stallRatio, line[key] / 100, byScope.with('inframeter.cgroups.pressure.window', window));
        }
      }
    }
  }

  if (h.networkIo !== undefined || h.packets !== undefined) {
    for (const net of stats.network) {
      const byName = tree.with('network.interface.name', net.name);
      const rx = byName.with('network.io.direction', 'receive');
      const tx = byName.with('network.io.direction', 'transmit');
      record(h.networkIo, net.rxBytes, rx);
      record(h.networkIo, net.txBytes, tx);
      record(h.packets, net.rxPackets, rx);
      record(h.packets, net.txPackets, tx);
    }
  }
}
