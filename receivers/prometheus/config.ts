import { z } from 'zod';
import { anchoredRegex, duration } from '../../kit/config-types.ts';

const target = z.union([
  z.url({ protocol: /^https?$/ }),
  z.strictObject({
    /** The exporter's URL, e.g. `http://10.0.0.5:9100/metrics`. */
    url: z.url({ protocol: /^https?$/ }),
    /** `job` of this target (the receiver's by default). */
    job: z.string().min(1).optional(),
    /** Attributes added to every point of this target. */
    labels: z.record(z.string().min(1), z.string()).default({}),
  }),
]);

export const configSchema = z.strictObject({
  targets: z.array(target).min(1),
  /** Names `service.name` of the targets' resources (Prometheus's `job`). */
  job: z.string().min(1).default('prometheus'),
  collection_interval: duration().prefault('30s'),
  /** Delay before the first scrape. */
  initial_delay: duration().default(0),
  /** Per target; the collection interval by default. */
  timeout: duration().optional(),
  /** Keep only metric families whose name matches one of these (all when empty). */
  metrics: z.array(anchoredRegex()).default([]),
  /** Ask for OpenMetrics first (the exporter may answer with the text format). */
  prefer_openmetrics: z.boolean().default(true),
  /** Keep the exporter's own timestamps (the scrape time otherwise). */
  honor_timestamps: z.boolean().default(true),
});

export interface PrometheusTarget {
  url: string;
  job?: string | undefined;
  labels: Record<string, string>;
}

export interface PrometheusReceiverConfig {
  targets: (string | PrometheusTarget)[];
  job: string;
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
  metrics: RegExp[];
  prefer_openmetrics: boolean;
  honor_timestamps: boolean;
}
