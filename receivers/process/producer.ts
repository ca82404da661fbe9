import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ProducedMetric, Series } from '../../kit/snapshot-producer.ts';
import { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import { processMetadata } from './metadata.ts';
import type { ProcessMetricName } from './metadata.ts';
import { USER_HZ } from '../../kit/procfs/pid-stat.ts';
import type { ProcessSnapshot } from './snapshot.ts';

/** Attribute sets of the receiver's own series, the same objects every scrape. */
const NO_ATTRIBUTES: Attributes = {};
const DENIED_FILES = (['io', 'fd', 'exe'] as const).map(
  (file) => [file, { 'inframeter.process.file': file }] as const,
);

/**
 * The producer of the enabled metrics of the process receiver: one callback that observes the
 * latest snapshot (it reads nothing itself), through an SDK metric producer rather than
 * observable instruments (see kit/snapshot-producer.ts: every process of a host makes
 * tens of thousands of series). Each process's attribute objects and series are made once
 * (see `AttributeSets`).
 */
export function createProcessProducer(
  enabled: ReadonlySet<ProcessMetricName>,
  snapshot: () => ProcessSnapshot,
): SnapshotProducer {
  const handles = new Map<ProcessMetricName, ProducedMetric>();
  const producer = new SnapshotProducer(
    'inframeter/receiver/process',
    processMetadata.metrics,
    (m) => enabled.has(m.name),
    () => {
      const observe = (name: ProcessMetricName, value: number | undefined, attributes: Attributes): void => {
        if (value !== undefined) handles.get(name)?.observe(value, attributes);
      };
      const { processes, processCount, denied, pageSize } = snapshot();
      observe('inframeter.process.listed', processCount, NO_ATTRIBUTES);
      for (const [file, attributes] of DENIED_FILES) {
        observe('inframeter.process.access_denied', denied[file], attributes);
      }
      const m = metrics;
      for (const sample of processes) {
        const { attributes: a, attributeSets: v, stat, status, statm, io, fds, utilization } = sample;
        const s = v.series;
        // The process's sums count from its start.
        const o: HrTime | undefined =
          sample.startTime === undefined
            ? undefined
            : [Math.floor(sample.startTime), Math.round((sample.startTime % 1) * 1e9)];
        record(s, o, 0, m.cpuTime, stat.utime / USER_HZ, v.cpuUser);
        record(s, o, 1, m.cpuTime, stat.stime / USER_HZ, v.cpuSystem);
        if (stat.delayacctBlkioTicks !== undefined)
          record(s, o, 2, m.cpuTime, stat.delayacctBlkioTicks / USER_HZ, v.cpuWait);
        record(s, o, 3, m.childrenCpuTime, stat.cutime / USER_HZ, v.cpuUser);
        record(s, o, 4, m.childrenCpuTime, stat.cstime / USER_HZ, v.cpuSystem);
        if (utilization !== undefined) {
          record(s, o, 5, m.utilization, utilization.user, v.cpuUser);
          record(s, o, 6, m.utilization, utilization.system, v.cpuSystem);
          if (stat.delayacctBlkioTicks !== undefined)
            record(s, o, 7, m.utilization, utilization.wait, v.cpuWait);
        }
        record(s, o, 8, m.virtual, stat.vsize, a);
        if (statm !== undefined) {
          record(s, o, 9, m.usage, statm.resident * pageSize, a);
          record(s, o, 10, m.shared, statm.shared * pageSize, a);
          record(s, o, 11, m.text, statm.text * pageSize, a);
          record(s, o, 12, m.data, statm.data * pageSize, a);
        }
        record(s, o, 13, m.swap, status.swapBytes, a);
        if (io !== undefined) {
          record(s, o, 14, m.diskIo, io.readBytes, v.read);
          record(s, o, 15, m.diskIo, io.writeBytes, v.write);
          record(s, o, 16, m.syscalls, io.syscr, v.read);
          record(s, o, 17, m.syscalls, io.syscw, v.write);
          record(s, o, 18, m.chars, io.rchar, v.read);
          record(s, o, 19, m.chars, io.wchar, v.write);
        }
        record(s, o, 20, m.threads, stat.numThreads, a);
        record(s, o, 21, m.fds, fds, a);
        record(s, o, 22, m.contextSwitches, status.voluntaryCtxtSwitches, v.voluntary);
        record(s, o, 23, m.contextSwitches, status.nonvoluntaryCtxtSwitches, v.involuntary);
        record(s, o, 24, m.faults, stat.minflt, v.minor);
        record(s, o, 25, m.faults, stat.majflt, v.major);
        record(s, o, 26, m.uptime, sample.uptime, a);
        record(s, o, 27, m.startTime, sample.startTime, a);
      }
    },
  );
  for (const metric of processMetadata.metrics) {
    const handle = producer.metric(metric.name);
    if (handle !== undefined) handles.set(metric.name, handle);
  }
  const metrics: PerProcess = {
    cpuTime: handles.get('process.cpu.time'),
    childrenCpuTime: handles.get('inframeter.process.children.cpu.time'),
    utilization: handles.get('process.cpu.utilization'),
    virtual: handles.get('process.memory.virtual'),
    usage: handles.get('process.memory.usage'),
    shared: handles.get('inframeter.process.memory.shared'),
    text: handles.get('inframeter.process.memory.text'),
    data: handles.get('inframeter.process.memory.data'),
    swap: handles.get('inframeter.process.memory.swap'),
    diskIo: handles.get('process.disk.io'),
    syscalls: handles.get('inframeter.process.io.syscalls'),
    chars: handles.get('inframeter.process.io.chars'),
    threads: handles.get('process.thread.count'),
    fds: handles.get('process.unix.file_descriptor.count'),
    contextSwitches: handles.get('process.context_switches'),
    faults: handles.get('process.paging.faults'),
    uptime: handles.get('process.uptime'),
    startTime: handles.get('inframeter.process.start_time'),
  };
  return producer;
}

/** The per-process metrics, undefined when switched off. */
interface PerProcess {
  readonly cpuTime: ProducedMetric | undefined;
  readonly childrenCpuTime: ProducedMetric | undefined;
  readonly utilization: ProducedMetric | undefined;
  readonly virtual: ProducedMetric | undefined;
  readonly usage: ProducedMetric | undefined;
  readonly shared: ProducedMetric | undefined;
  readonly text: ProducedMetric | undefined;
  readonly data: ProducedMetric | undefined;
  readonly swap: ProducedMetric | undefined;
  readonly diskIo: ProducedMetric | undefined;
  readonly syscalls: ProducedMetric | undefined;
  readonly chars: ProducedMetric | undefined;
  readonly threads: ProducedMetric | undefined;
  readonly fds: ProducedMetric | undefined;
  readonly contextSwitches: ProducedMetric | undefined;
  readonly faults: ProducedMetric | undefined;
  readonly uptime: ProducedMetric | undefined;
  readonly startTime: ProducedMetric | undefined;
}

/**
 * Records `value` in a process's series number `slot` (each slot is one metric with one of
 * the process's attribute sets), made on first use with the process's start as its origin.
 */
function record(
  series: (Series | undefined)[],
  origin: HrTime | undefined,
  slot: number,
  metric: ProducedMetric | undefined,
  value: number | undefined,
  attributes: Attributes,
): void {
  if (metric === undefined || value === undefined) return;
  let held = series[slot];
  if (held === undefined) {
    held = metric.series(attributes, origin);
    series[slot] = held;
  }
  metric.record(held, value);
}
