import { z } from 'zod';
import { duration, hostPort } from '../../kit/config-types.ts';
import type { HostPort } from '../../kit/config-types.ts';
import { enabledMetricNames, metricSwitchesSchema } from '../../kit/metric-switches.ts';
import { wattmetreMetadata } from './metadata.ts';

export const MODES = ['full', 'mean'] as const;
export type Mode = (typeof MODES)[number];

const sourceSchema = z
  .strictObject({
    /** A program and its arguments, e.g. `[wattmetre-read, /dev/ttyUSB0]`; restarted with backoff when it exits. */
    command: z.array(z.string().min(1)).min(1).optional(),
    /** A file or FIFO to follow (new lines as they are appended; a FIFO is reopened when its writer closes). */
    file: z.string().min(1).optional(),
    /** Read frames from the collector's standard input. */
    stdin: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    const given = [s.command, s.file, s.stdin === true ? true : undefined].filter(
      (x) => x !== undefined,
    ).length;
    if (given !== 1)
      ctx.addIssue({ code: 'custom', message: 'give exactly one of command, file, stdin: true' });
  });

export const configSchema = z
  .strictObject({
    source: sourceSchema,
    /** Names the ports: `<wattmetre_id>-port<N>`. */
    wattmetre_id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ., _ and - only'),
    /** kwollect's mapping file (`device: [wattmetre1-port3, …]`); unmapped ports are still reported. */
    mapping_file: z.string().min(1).optional(),
    /** kwollector-wattmetre's name for `mapping_file` (`''`: none); `mapping_file` wins when both are given. */
    mapping_file_path: z.string().optional(),
    /** Per-device mode at start: every sample (`full`) or a mean per second (`mean`). */
    default_mode: z.enum(MODES).default('full'),
    /** Modes of given devices at start (device name or, unmapped, port name). */
    modes: z.record(z.string().min(1), z.enum(MODES)).default({}),
    /** How often collected samples are pushed into the pipeline. */
    flush_interval: duration().prefault('1s'),
    /** Consecutive frames further apart than this are a gap (counted, logged; no energy across it). */
    max_gap: duration().prefault('1s'),
    /** Restart backoff of the command: first and longest delay. */
    restart_delay: duration().prefault('1s'),
    max_restart_delay: duration().prefault('30s'),
    /** HTTP endpoint to switch modes at run time (`PUT /devices/NAME/mode` with `full` or `mean`); off when absent. */
    control_endpoint: hostPort().optional(),
    /** A switch per metric: `inframeter.wattmetre.frames: { enabled: false }`. */
    metrics: metricSwitchesSchema(wattmetreMetadata.metrics.map((m) => m.name)),
  })
  .transform(({ metrics, ...rest }) => ({
    ...rest,
    metrics: enabledMetricNames(wattmetreMetadata.metrics, metrics),
  }));

export interface WattmetreConfig {
  source: { command?: string[] | undefined; file?: string | undefined; stdin?: boolean | undefined };
  wattmetre_id: string;
  mapping_file?: string | undefined;
  mapping_file_path?: string | undefined;
  default_mode: Mode;
  modes: Record<string, Mode>;
  flush_interval: number;
  max_gap: number;
  restart_delay: number;
  max_restart_delay: number;
  control_endpoint?: HostPort | undefined;
  /** The metrics to emit. */
  metrics: ReadonlySet<string>;
}
