import { z } from 'zod';
import { duration } from '../config-types.ts';

/**
 * The delivery settings every push exporter takes, in the OpenTelemetry Collector's shape:
 * `sending_queue` and `retry_on_failure`. An exporter spreads {@link deliveryOptions} into
 * its own schema.
 */

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses "512", "64KiB", "4MiB", "1GB" into bytes; undefined when malformed. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) return undefined;
  const unit = BYTE_UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(match[1]) * unit);
}

/** A size in bytes: a number, or a string with a unit (`KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`). */
export function byteSize(): z.ZodType<number, string | number> {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size such as "64MiB" or a number of bytes, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return Math.floor(bytes);
  });
}

/** `sending_queue`: where batches wait to be sent. */
export const sendingQueueSchema = z
  .strictObject({
    /** Queue batches and acknowledge the pipeline at once; false: each export waits for its send. */
    enabled: z.boolean().default(true),
    /** Batches sent at the same time. More than 1 can reorder batches at the backend. */
    num_consumers: z.number().int().min(1).max(64).default(1),
    /** Bound on the data points waiting (the oldest are dropped beyond it). */
    queue_size: z.number().int().positive().default(1_000_000),
    /** Bound on the bytes waiting, in the encoding the exporter sends (the oldest are dropped beyond it). */
    max_bytes: byteSize().prefault('256MiB'),
    /** `memory`, or `file`: append-only segment files in `directory` that survive a restart. */
    storage: z.enum(['memory', 'file']).default('memory'),
    /** Directory of the persistent queue; required with `storage: file`, one per exporter. */
    directory: z.string().min(1).optional(),
  })
  .superRefine((queue, ctx) => {
    if (queue.storage === 'file' && queue.directory === undefined) {
      ctx.addIssue({ code: 'custom', path: ['directory'], message: 'required when storage is file' });
    }
    if (queue.storage === 'memory' && queue.directory !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['directory'], message: 'only used with storage: file' });
    }
  });

/** `retry_on_failure`: exponential backoff with jitter, for retryable failures only. */
export const retryOnFailureSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Wait before the first retry. */
    initial_interval: duration().prefault('5s'),
    /** Upper bound of one wait. */
    max_interval: duration().prefault('30s'),
    /**
     * Give a batch up after this long since its first attempt; 0: never give up. Unset: 5m
     * for a memory queue, never for a persistent one (its batches are safe on disk).
     */
    max_elapsed_time: duration().optional(),
    /** Growth of the wait from one retry to the next. */
    multiplier: z.number().min(1).default(1.5),
    /** Each wait is drawn uniformly in wait × [1 − f, 1 + f]. */
    randomization_factor: z.number().min(0).max(1).default(0.5),
  })
  .refine((retry) => retry.initial_interval <= retry.max_interval, {
    path: ['initial_interval'],
    message: 'must not be longer than max_interval',
  });

export type SendingQueueConfig = z.output<typeof sendingQueueSchema>;
export type RetryConfig = z.output<typeof retryOnFailureSchema>;

/** What an exporter's schema spreads in: `sending_queue` and `retry_on_failure`, defaults filled. */
export const deliveryOptions = {
  sending_queue: sendingQueueSchema.prefault({}),
  retry_on_failure: retryOnFailureSchema.prefault({}),
};

/** The delivery part of an exporter's parsed config. */
export interface DeliveryConfig {
  readonly sending_queue: SendingQueueConfig;
  readonly retry_on_failure: RetryConfig;
}
