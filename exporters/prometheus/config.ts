import { z } from 'zod';
import type { HostPort } from '../../kit/config-types.ts';
import { duration, hostPort } from '../../kit/config-types.ts';
import { isValidLabelName } from '../../kit/prometheus/naming.ts';

/** Where the endpoint listens unless told otherwise: every interface, Prometheus's port for OTel SDKs. */
export const DEFAULT_ENDPOINT = '0.0.0.0:9464';

/** How long a series that stops arriving stays exposed: 5 minutes, as in the OpenTelemetry Collector. */
export const DEFAULT_METRIC_EXPIRATION = 5 * 60_000;

/** The `prometheus` exporter's settings. */
export const configSchema = z.strictObject({
  /** `host:port` the scrape endpoint listens on; port 0 picks a free port. */
  endpoint: hostPort().prefault(DEFAULT_ENDPOINT),
  /** Prefix of every metric name (`inframeter` → `inframeter_system_cpu_time_seconds_total`). */
  namespace: z
    .string()
    .regex(
      /^[a-zA-Z_][a-zA-Z0-9_]*$/,
      'must be a Prometheus name: letters, digits and _, not starting with a digit',
    )
    .optional(),
  /** Labels added to every series. */
  const_labels: z
    .record(z.string(), z.string())
    .superRefine((labels, ctx) => {
      for (const name of Object.keys(labels)) {
        if (!isValidLabelName(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'must be a label name: letters, digits and _, not starting with a digit or __',
          });
      }
    })
    .default({}),
  /** A series not updated for this long is no longer exposed. */
  metric_expiration: duration()
    .default(DEFAULT_METRIC_EXPIRATION)
    .refine((ms) => ms > 0, { message: 'must be longer than 0' }),
  /** Copy every resource attribute to a label of every series. */
  resource_to_telemetry_conversion: z
    .strictObject({
      enabled: z.boolean().default(false),
    })
    .prefault({}),
  /** Unit suffixes (`_seconds`, `_bytes`, `_ratio`) and `_total` in metric names. */
  add_metric_suffixes: z.boolean().default(true),
  /** Answer with OpenMetrics 1.0.0 when the scraper asks for it; else always the text format 0.0.4. */
  enable_open_metrics: z.boolean().default(true),
  /** Write each point's time after its value (Prometheus then keeps it instead of the scrape time). */
  send_timestamps: z.boolean().default(false),
  /** Leave out the `otel_scope_name` and `otel_scope_version` labels. */
  without_scope_info: z.boolean().default(false),
});

/** The `prometheus` exporter's parsed config. */
export interface PrometheusExporterConfig {
  endpoint: HostPort;
  namespace?: string | undefined;
  const_labels: Record<string, string>;
  metric_expiration: number;
  resource_to_telemetry_conversion: { enabled: boolean };
  add_metric_suffixes: boolean;
  enable_open_metrics: boolean;
  send_timestamps: boolean;
  without_scope_info: boolean;
}
