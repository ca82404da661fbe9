import { z } from 'zod';
import type { Secret } from '../../kit/config-types.ts';
import { duration, secret } from '../../kit/config-types.ts';
import { loadMetricsTree } from './metrics-dir.ts';

/** kwollector's `log_level` values (Python's logging levels) and the logger's names for them. */
export const LOG_LEVELS = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
} as const;

const promotion = z.strictObject({
  /** A device, as the metrics.d files name it (`device_id`) or as their `_device_alias`. */
  device_id: z.string().min(1),
  /** A regular expression matched against the whole metric name. */
  metric_id: z.string().min(1).refine(isRegExp, 'must be a regular expression'),
});

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/**
 * The receiver's keys are those of a kwollector configuration file (`metrics_dir`,
 * `db_host`, `db_name`, `db_user`, `db_password`, `log_level`), so a site's file can be
 * pasted under `receivers: kwollect:` as it is; the others are inframeter's.
 */
export const configSchema = z
  .strictObject({
    /** kwollect's `metrics.d` directory: every `*.yaml` and `*.yml` in it, read when validating and at start. */
    metrics_dir: z.string().min(1).default('/etc/kwollect/metrics.d/'),
    /** PostgreSQL server holding kwollect's `promoted_metrics` table; no polling when absent. */
    db_host: z.string().min(1).optional(),
    /** PostgreSQL port (kwollector has none: it always uses the default). */
    db_port: z.number().int().min(1).max(65_535).default(5432),
    db_name: z.string().min(1).default('kwdb'),
    db_user: z.string().min(1).default('kwuser'),
    /** A secret: use `${env:…}`. */
    db_password: secret().optional(),
    /** kwollector's log level (`debug`, `info`, `warning`, `error`, `critical`) for this receiver's logs. */
    log_level: z
      .enum(Object.keys(LOG_LEVELS) as [keyof typeof LOG_LEVELS, ...(keyof typeof LOG_LEVELS)[]])
      .optional(),
    /** How often `promoted_metrics` is read. */
    promoted_metrics_interval: duration().prefault('10s'),
    /** (device, metric regex) pairs whose optional metrics are on from the start. */
    promoted_metrics: z.array(promotion).default([]),
    /** FreeIPMI workarounds (`-W`) for every `ipmisensor://` BMC, e.g. `[opensesspriv]`. */
    ipmi_workarounds: z.array(z.string().regex(/^[a-z0-9]+$/)).default([]),
  })
  // The tree is read here too, so that `inframeter validate` finds what `run` would.
  .superRefine((config, ctx) => {
    try {
      loadMetricsTree(config.metrics_dir, config.ipmi_workarounds);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['metrics_dir'], message: (error as Error).message });
    }
  });

/** A row of kwollect's `promoted_metrics`: a device and a regular expression of metric names. */
export interface Promotion {
  device_id: string;
  metric_id: string;
}

export interface KwollectConfig {
  metrics_dir: string;
  db_host?: string | undefined;
  db_port: number;
  db_name: string;
  db_user: string;
  db_password?: Secret | undefined;
  log_level?: keyof typeof LOG_LEVELS | undefined;
  promoted_metrics_interval: number;
  promoted_metrics: Promotion[];
  ipmi_workarounds: string[];
}
