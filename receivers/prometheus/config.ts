import { z } from 'zod';
import { anchoredRegex, duration } from '../../kit/config-types.ts';
import { recordConfigWarning } from '../../kit/config-warnings.ts';
import { deprecationMessage, openMetricSwitchesSchema, toFlowYaml } from '../../kit/metric-switches.ts';
import type { MetricSwitches } from '../../kit/metric-switches.ts';

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

/**
 * The `prometheus` receiver's configuration. The family filter was once a list of regexes
 * under `metrics:`; it is now `keep_metric_names` (still read there, with a warning, for one
 * release), and `metrics:` has the switch shape of every receiver.
 */
export const configSchema = z.preprocess(
  (raw, ctx) => {
    if (typeof raw !== 'object' || raw === null || !('metrics' in raw) || !Array.isArray(raw.metrics))
      return raw;
    const { metrics, ...rest } = raw as { metrics: unknown[] } & Record<string, unknown>;
    if ('keep_metric_names' in rest) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics'],
        message:
          'a list of regexes here is the old spelling of keep_metric_names, which is also given: keep only keep_metric_names',
      });
      return raw;
    }
    recordConfigWarning(raw, {
      path: ['metrics'],
      message: deprecationMessage(
        `metrics: ${toFlowYaml(metrics)}`,
        `keep_metric_names: ${toFlowYaml(metrics)}`,
      ),
    });
    return { ...rest, keep_metric_names: metrics };
  },
  z.strictObject({
    targets: z.array(target).min(1),
    /** Names `service.name` of the targets' resources (Prometheus's `job`). */
    job: z.string().min(1).default('prometheus'),
    collection_interval: duration().prefault('30s'),
    /** Delay before the first scrape. */
    initial_delay: duration().default(0),
    /** Per target; the collection interval by default. */
    timeout: duration().optional(),
    /**
     * Keep only metric families whose name matches one of these anchored regexes (all when
     * empty): Prometheus's `metric_relabel_configs` rule `{ source_labels: [__name__], regex:
     * '…', action: keep }`.
     */
    keep_metric_names: z.array(anchoredRegex()).default([]),
    /**
     * A switch per metric family, by its exact name as the exposition's `# TYPE` line gives it:
     * `go_gc_duration_seconds: { enabled: false }` drops it, `enabled: true` keeps it even when
     * keep_metric_names does not match it. The receiver's own `up`, `scrape_duration_seconds` and
     * `scrape_samples_scraped` can be switched off the same way.
     */
    metrics: openMetricSwitchesSchema(),
    /** Ask for OpenMetrics first (the exporter may answer with the text format). */
    prefer_openmetrics: z.boolean().default(true),
    /** Keep the exporter's own timestamps (the scrape time otherwise). */
    honor_timestamps: z.boolean().default(true),
  }),
);

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
  keep_metric_names: RegExp[];
  metrics: MetricSwitches;
  prefer_openmetrics: boolean;
  honor_timestamps: boolean;
}

/** Whether a scraped family is passed on: its own switch, else keep_metric_names (all when empty). */
export function keepsFamily(
  config: Pick<PrometheusReceiverConfig, 'metrics' | 'keep_metric_names'>,
  name: string,
): boolean {
  const own = config.metrics[name]?.enabled;
  if (own !== undefined) return own;
  return config.keep_metric_names.length === 0 || config.keep_metric_names.some((r) => r.test(name));
}
