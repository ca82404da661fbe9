import type { Attributes } from '@opentelemetry/api';
import type { ProducedMetric } from '../../service/snapshot-producer.ts';
import { SnapshotProducer } from '../../service/snapshot-producer.ts';
import { processMetadata } from './metadata.ts';
import type { ProcessMetricName } from './metadata.ts';
import { USER_HZ } from './parse/pid-stat.ts';
import type { ProcessSnapshot } from './scraper.ts';

/** Attribute sets of the receiver's own series, the same objects every scrape. */
const NO_ATTRIBUTES: Attributes = {};
const DENIED_FILES = (['io', 'fd', 'exe'] as const).map(
  (file) => [file, { 'inframeter.process.file': file }] as const,
);

/**
 * The producer of the enabled metrics of the process receiver: one callback that observes the
 * latest snapshot (it reads nothing itself), through an SDK metric producer rather than
 * observable instruments (see service/snapshot-producer.ts: every process of a host makes
 * tens of thousands of series). Each process's attribute objects are built once (see
 * `AttributeSets`).
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
      observe('inframeter.process.count', processCount, NO_ATTRIBUTES);
      for (const [file, attributes] of DENIED_FILES) {
        observe('inframeter.process.access_denied', denied[file], attributes);
      }
      for (const sample of processes) {
        const { attributes: a, attributeSets: v, stat, status, statm, io, fds, utilization } = sample;
        observe('process.cpu.time', stat.utime / USER_HZ, v.cpuUser);
        observe('process.cpu.time', stat.stime / USER_HZ, v.cpuSystem);
        if (stat.delayacctBlkioTicks !== undefined)
          observe('process.cpu.time', stat.delayacctBlkioTicks / USER_HZ, v.cpuWait);
        observe('inframeter.process.children.cpu.time', stat.cutime / USER_HZ, v.cpuUser);
        observe('inframeter.process.children.cpu.time', stat.cstime / USER_HZ, v.cpuSystem);
        if (utilization !== undefined) {
          observe('process.cpu.utilization', utilization.user, v.cpuUser);
          observe('process.cpu.utilization', utilization.system, v.cpuSystem);
          if (stat.delayacctBlkioTicks !== undefined)
            observe('process.cpu.utilization', utilization.wait, v.cpuWait);
        }
        observe('process.memory.virtual', stat.vsize, a);
        if (statm !== undefined) {
          observe('process.memory.usage', statm.resident * pageSize, a);
          observe('inframeter.process.memory.shared', statm.shared * pageSize, a);
          observe('inframeter.process.memory.text', statm.text * pageSize, a);
          observe('inframeter.process.memory.data', statm.data * pageSize, a);
        }
        observe('inframeter.process.memory.swap', status.swapBytes, a);
        if (io !== undefined) {
          observe('process.disk.io', io.readBytes, v.read);
          observe('process.disk.io', io.writeBytes, v.write);
          observe('inframeter.process.io.syscalls', io.syscr, v.read);
          observe('inframeter.process.io.syscalls', io.syscw, v.write);
          observe('inframeter.process.io.chars', io.rchar, v.read);
          observe('inframeter.process.io.chars', io.wchar, v.write);
        }
        observe('process.thread.count', stat.numThreads, a);
        observe('process.unix.file_descriptor.count', fds, a);
        observe('process.context_switches', status.voluntaryCtxtSwitches, v.voluntary);
        observe('process.context_switches', status.nonvoluntaryCtxtSwitches, v.involuntary);
        observe('process.paging.faults', stat.minflt, v.minor);
        observe('process.paging.faults', stat.majflt, v.major);
        observe('process.uptime', sample.uptime, a);
        observe('inframeter.process.start_time', sample.startTime, a);
      }
    },
  );
  for (const metric of processMetadata.metrics) {
    const handle = producer.metric(metric.name);
    if (handle !== undefined) handles.set(metric.name, handle);
  }
  return producer;
}
