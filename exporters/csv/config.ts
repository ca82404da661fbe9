import { z } from 'zod';
import { duration } from '../../kit/config-types.ts';
import { size } from './size.ts';

/** Default bound on the memory held by rows waiting to be written: 16 MiB (`max_buffer_size`). */
export const DEFAULT_MAX_BUFFER_SIZE = 16 * 2 ** 20;

const rotationSchema = z
  .strictObject({
    /** Start a new file before a write would take the current one past this size (bytes or "100MiB"). */
    max_size: size().optional(),
    /** Start a new file when the current one is this old ("1h", "24h"). */
    interval: duration().optional(),
    /** Keep at most this many rotated files, deleting the oldest; default: keep all. */
    max_files: z.number().int().positive().optional(),
  })
  .superRefine((rotation, ctx) => {
    if (rotation.interval === 0) {
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'must be longer than 0' });
    }
    if (
      rotation.max_files !== undefined &&
      rotation.max_size === undefined &&
      rotation.interval === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_files'],
        message: 'has no effect without rotation.max_size or rotation.interval',
      });
    }
  });

/** The `csv` exporter's settings. */
export const configSchema = z.strictObject({
  /** The CSV file; rotated files and files moved aside are written next to it. */
  path: z.string().min(1, 'must not be empty'),
  /** When to start a new file; none by default (one file that grows). */
  rotation: rotationSchema.prefault({}),
  /** How often rows waiting in memory are written to the file; 0 writes every batch at once. */
  flush_interval: duration().prefault('1s'),
  /** Fill the `resource` column with the resource attributes other than host.name; false leaves it empty. */
  include_resource: z.boolean().default(true),
  /** Bound on rows waiting to be written (CSV bytes); a batch that does not fit fails and is counted dropped. */
  max_buffer_size: size().prefault('16MiB'),
});

/** The `csv` exporter's parsed config. */
export interface CsvExporterConfig {
  path: string;
  rotation: {
    max_size?: number | undefined;
    interval?: number | undefined;
    max_files?: number | undefined;
  };
  flush_interval: number;
  include_resource: boolean;
  max_buffer_size: number;
}
