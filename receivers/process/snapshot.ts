import type { Attributes } from '@opentelemetry/api';
import type { PidStat } from '../../kit/procfs/pid-stat.ts';
import type { Statm } from '../../kit/procfs/statm.ts';
import type { Series } from '../../kit/snapshot-producer.ts';
import type { PidIo } from './parse/io.ts';
import type { PidStatus } from './parse/status.ts';

/**
 * What one scrape of the process receiver leaves: written by the scraper (scraper.ts), read by
 * its producer (producer.ts) at collection time.
 */

/** CPU time of one process split by `cpu.mode`, in seconds. */
export interface CpuModes {
  readonly user: number;
  readonly system: number;
  readonly wait: number;
}

/** Everything read about one selected process in a scrape. */
export interface ProcessSample {
  /** process.pid, parent_pid, executable.name, command, owner (+ command_line when enabled). */
  readonly attributes: Attributes;
  /** The same with each per-metric attribute added, built once per process. */
  readonly attributeSets: AttributeSets;
  readonly stat: PidStat;
  readonly status: PidStatus;
  readonly statm: Statm | undefined;
  readonly io: PidIo | undefined;
  readonly fds: number | undefined;
  /** CPU utilization by mode since the previous scrape; undefined on the first sighting. */
  readonly utilization: CpuModes | undefined;
  /** Seconds since the process started; undefined when the boot time is unknown. */
  readonly uptime: number | undefined;
  /** When the process started, in seconds since the Unix epoch; undefined when the boot time is unknown. */
  readonly startTime: number | undefined;
}

/**
 * A process's attributes with each value of the per-metric attributes, built when its
 * identity changes rather than on every observation (an all-process scrape makes tens of
 * thousands of observations).
 */
export interface AttributeSets {
  readonly cpuUser: Attributes;
  readonly cpuSystem: Attributes;
  readonly cpuWait: Attributes;
  readonly read: Attributes;
  readonly write: Attributes;
  readonly voluntary: Attributes;
  readonly involuntary: Attributes;
  readonly minor: Attributes;
  readonly major: Attributes;
  /**
   * The process's series, made on first use by the receiver (one slot per metric and attribute
   * set) and kept with these attributes: recorded through without any lookup.
   */
  readonly series: (Series | undefined)[];
}

/** Files of selected processes that could not be read for lack of privileges, by file. */
export interface DeniedCounts {
  io: number;
  fd: number;
  exe: number;
}

/** What one scrape leaves for the producer's callback. */
export interface ProcessSnapshot {
  readonly processes: readonly ProcessSample[];
  /** Processes listed in /proc (selected or not). */
  readonly processCount: number;
  readonly denied: Readonly<DeniedCounts>;
  /** Bytes per page, to turn statm counts into bytes. */
  readonly pageSize: number;
}
