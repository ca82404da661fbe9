import { z } from 'zod';
import { duration, secret } from '../../kit/config-types.ts';
import type { Secret } from '../../kit/config-types.ts';
import { deliveryOptions } from '../../kit/delivery/config.ts';
import type { DeliveryConfig } from '../../kit/delivery/config.ts';
import { isValidLabelName } from '../../kit/prometheus/naming.ts';

/** Headers the protocol sets itself: a user's value would break the request. */
const RESERVED_HEADERS = new Set([
  'content-encoding',
  'content-type',
  'content-length',
  'x-prometheus-remote-write-version',
]);

const labelMap = z
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
  .default({});

const authSchema = z
  .strictObject({
    /** `Authorization: Bearer <token>` (Mimir, Grafana Cloud, a reverse proxy). */
    bearer_token: secret().optional(),
    /** `Authorization: Basic …` from a user name and a password. */
    basic_auth: z
      .strictObject({
        username: z.string().min(1),
        password: secret(),
      })
      .optional(),
  })
  .refine((auth) => auth.bearer_token === undefined || auth.basic_auth === undefined, {
    message: 'bearer_token and basic_auth exclude each other',
  });

/** The `prometheusremotewrite` exporter's settings. */
export const configSchema = z
  .strictObject({
    /** The receiver's remote-write URL: `http(s)://host:port/api/v1/write` (Prometheus, VictoriaMetrics), `/api/v1/push` (Mimir). */
    endpoint: z.string().min(1),
    /** Credentials (values from `${env:…}`, never logged). */
    auth: authSchema.prefault({}),
    /** More request headers (`X-Scope-OrgID` for a Mimir tenant); values are secrets. */
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-_.]+$/, 'invalid header name'), secret())
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (RESERVED_HEADERS.has(name.toLowerCase()))
            ctx.addIssue({ code: 'custom', path: [name], message: 'set by the protocol; cannot be changed' });
          if (name.toLowerCase() === 'authorization')
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: 'use auth.bearer_token or auth.basic_auth',
            });
        }
      })
      .default({}),
    /** Time limit of one request. */
    timeout: duration().prefault('30s'),
    /** Prefix of every metric name except `target_info`. */
    namespace: z
      .string()
      .regex(
        /^[a-zA-Z_][a-zA-Z0-9_]*$/,
        'must be a Prometheus name: letters, digits and _, not starting with a digit',
      )
      .optional(),
    /** Labels added to every series (a series' own label of the same name wins), as Prometheus's `external_labels`. */
    external_labels: labelMap,
    /** Copy every resource attribute to a label of every series. */
    resource_to_telemetry_conversion: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
    /** Unit suffixes (`_seconds`, `_bytes`, `_ratio`) and `_total` in metric names. */
    add_metric_suffixes: z.boolean().default(true),
    /** Leave out the `otel_scope_name` and `otel_scope_version` labels. */
    without_scope_info: z.boolean().default(false),
    /** A `target_info` sample per resource and batch, with the resource attributes as labels. */
    target_info: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    /** Stale markers when a series ends. */
    stale_markers: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** A source (resource and scope) silent this long has all its series marked stale. */
        idle_timeout: duration()
          .prefault('5m')
          .refine((ms) => ms > 0, { message: 'must be longer than 0' }),
      })
      .prefault({}),
    /** Parallel senders; each series always goes to the same one, so its samples stay in order. */
    shards: z.number().int().min(1).max(64).default(4),
    /** Samples per request at most (a point's samples are never split between requests). */
    max_samples_per_send: z.number().int().min(1).max(1_000_000).default(2000),
    /** Longest wait of samples for their request to fill before it is sent anyway. */
    batch_send_deadline: duration()
      .prefault('1s')
      .refine((ms) => ms > 0, { message: 'must be longer than 0' }),
    ...deliveryOptions,
  })
  .superRefine((config, ctx) => {
    const problem = endpointProblem(config.endpoint);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: problem });
    if (config.sending_queue.num_consumers !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['sending_queue', 'num_consumers'],
        message:
          'must be 1: series are spread over `shards` senders instead, so that the samples of each arrive in order',
      });
    }
  });

/** The `prometheusremotewrite` exporter's parsed config. */
export interface RemoteWriteConfig extends DeliveryConfig {
  endpoint: string;
  auth: {
    bearer_token?: Secret | undefined;
    basic_auth?: { username: string; password: Secret } | undefined;
  };
  headers: Record<string, Secret>;
  timeout: number;
  namespace?: string | undefined;
  external_labels: Record<string, string>;
  resource_to_telemetry_conversion: { enabled: boolean };
  add_metric_suffixes: boolean;
  without_scope_info: boolean;
  target_info: { enabled: boolean };
  stale_markers: { enabled: boolean; idle_timeout: number };
  shards: number;
  max_samples_per_send: number;
  batch_send_deadline: number;
}

/** What is wrong with an endpoint URL, or undefined. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `expected a URL such as http://prometheus:9090/api/v1/write, got ${JSON.stringify(endpoint)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}: use http:// or https://`;
  if (url.username !== '' || url.password !== '')
    return 'credentials do not belong in the URL: use auth.basic_auth';
  return undefined;
}
