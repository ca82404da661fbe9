import type { Attributes, Meter, Observable } from '@opentelemetry/api';
import { processMetadata } from './metadata.ts';
import type { ProcessMetricName } from './metadata.ts';
import { USER_HZ } from './parse/pid-stat.ts';
import type { ProcessSnapshot } from './scraper.ts';

/**
 * Registers the enabled metrics of the process receiver on `meter`, with one batch callback
 * that observes the latest snapshot (it reads nothing itself).
 */
export function registerProcessInstruments(
  meter: Meter,
  enabled: ReadonlySet<ProcessMetricName>,
  snapshot: () => ProcessSnapshot,
): void {
  const instruments = new Map<ProcessMetricName, Observable>();
  for (const metric of processMetadata.metrics) {
    if (!enabled.has(metric.name)) continue;
    const options = { unit: metric.unit, description: metric.description };
    let instrument: Observable;
    switch (metric.instrument) {
      case 'counter':
        instrument = meter.createObservableCounter(metric.name, options);
        break;
      case 'updowncounter':
        instrument = meter.createObservableUpDownCounter(metric.name, options);
        break;
      case 'gauge':
        instrument = meter.createObservableGauge(metric.name, options);
        break;
    }
    instruments.set(metric.name, instrument);
  }
  if (instruments.size === 0) return;

  meter.addBatchObservableCallback(
    (result) => {
      const observe = (name: ProcessMetricName, value: number | undefined, attributes: Attributes): void => {
        const instrument = instruments.get(name);
        if (instrument !== undefined && value !== undefined) result.observe(instrument, value, attributes);
      };
      const { processes, processCount, denied, pageSize } = snapshot();
      observe('inframeter.process.count', processCount, {});
      for (const file of ['io', 'fd', 'exe'] as const) {
        observe('inframeter.process.access_denied', denied[file], { 'inframeter.process.file': file });
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
    [...instruments.values()],
  );
}
