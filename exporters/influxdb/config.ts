import { z } from 'zod';
import { duration, secret } from '../../kit/config-types.ts';
import type { Secret } from '../../kit/config-types.ts';
import { deliveryOptions } from '../../kit/delivery/config.ts';
import type { DeliveryConfig } from '../../kit/delivery/config.ts';

/** Timestamp precisions of the write APIs (the `precision` query parameter of both). */
export const PRECISIONS = ['ns', 'us', 'ms', 's'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * How metrics become measurements: `otel` (one measurement per metric, attributes as tags)
 * or `cs_pulse_sensor` (the libvirt receiver's metrics in cs-pulse-sensor's measurements).
 */
export const SCHEMAS = ['otel', 'cs_pulse_sensor'] as const;
export type Schema = (typeof SCHEMAS)[number];

const V1_PRECISION: Record<Precision, string> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

const V1_KEYS = ['database', 'retention_policy', 'username', 'password'] as const;
const V2_KEYS = ['org', 'bucket', 'token'] as const;

/** The `influxdb` exporter's settings. */
export const configSchema = z
  .strictObject({
    /** Base URL of the server: `http(s)://host:port` (a path prefix is kept, e.g. behind a proxy). */
    endpoint: z.string().min(1),
    /** `1`: `POST /write` (InfluxDB 1.x); `2`: `POST /api/v2/write` (InfluxDB 2.x, 1.8+). */
    api_version: z.union([z.literal(1), z.literal(2)]).default(1),
    /** 1.x: the database written to. */
    database: z.string().min(1).optional(),
    /** 1.x: the retention policy; default: the database's default policy. */
    retention_policy: z.string().min(1).optional(),
    /** 1.x: user name (basic authentication, with `password`). */
    username: z.string().min(1).optional(),
    /** 1.x: password, e.g. `${env:INFLUX_PASSWORD}`. */
    password: secret().optional(),
    /** 2.x: organization name or id. */
    org: z.string().min(1).optional(),
    /** 2.x: bucket name or id. */
    bucket: z.string().min(1).optional(),
    /** 2.x: API token (`Authorization: Token …`), e.g. `${env:INFLUX_TOKEN}`. */
    token: secret().optional(),
    /** Precision of the timestamps written (and of the `precision` parameter). */
    precision: z.enum(PRECISIONS).default('ns'),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    /** Time limit of one request. */
    timeout: duration().prefault('10s'),
    /** `otel`: one measurement per metric; `cs_pulse_sensor`: cs-pulse-sensor's measurements. */
    schema: z.enum(SCHEMAS).default('otel'),
    /** `otel` schema: also write the resource's attributes as tags (a point's own attribute wins). */
    resource_attributes_as_tags: z.boolean().default(false),
    ...deliveryOptions,
  })
  .superRefine((config, ctx) => {
    const problem = endpointProblem(config.endpoint);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: problem });
    const [required, foreign] =
      config.api_version === 1 ? [['database'], V2_KEYS] : [['org', 'bucket'], V1_KEYS];
    for (const key of required) {
      if (config[key as keyof typeof config] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `required with api_version ${config.api_version}`,
        });
    }
    for (const key of foreign) {
      if (config[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `not used with api_version ${config.api_version}`,
        });
    }
    if ((config.username === undefined) !== (config.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [config.username === undefined ? 'username' : 'password'],
        message: 'username and password go together',
      });
    }
    if (config.schema !== 'otel' && config.resource_attributes_as_tags) {
      ctx.addIssue({
        code: 'custom',
        path: ['resource_attributes_as_tags'],
        message: 'only used with schema: otel',
      });
    }
  });

/** What is wrong with an endpoint, or undefined. */
function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `expected http(s)://host:port, got ${JSON.stringify(endpoint)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}: use http:// or https://`;
  if (url.search !== '' || url.hash !== '') return 'no query or fragment: the exporter builds the query';
  if (url.username !== '' || url.password !== '')
    return 'no credentials in the URL: use username/password or token';
  return undefined;
}

/** The `influxdb` exporter's parsed config. */
export interface InfluxdbExporterConfig extends DeliveryConfig {
  endpoint: string;
  api_version: 1 | 2;
  database?: string | undefined;
  retention_policy?: string | undefined;
  username?: string | undefined;
  password?: Secret | undefined;
  org?: string | undefined;
  bucket?: string | undefined;
  token?: Secret | undefined;
  precision: Precision;
  compression: 'gzip' | 'none';
  timeout: number;
  schema: Schema;
  resource_attributes_as_tags: boolean;
}

/** The write URL: `/write?db=…&rp=…&precision=…` (1.x) or `/api/v2/write?org=…&bucket=…&precision=…` (2.x). */
export function writeUrl(config: InfluxdbExporterConfig): URL {
  const url = new URL(config.endpoint);
  const base = url.pathname.replace(/\/+$/, '');
  const query = new URLSearchParams();
  if (config.api_version === 1) {
    url.pathname = `${base}/write`;
    query.set('db', config.database ?? '');
    if (config.retention_policy !== undefined) query.set('rp', config.retention_policy);
    // 1.x spells nanoseconds and microseconds `n` and `u`.
    query.set('precision', V1_PRECISION[config.precision]);
  } else {
    url.pathname = `${base}/api/v2/write`;
    query.set('org', config.org ?? '');
    query.set('bucket', config.bucket ?? '');
    query.set('precision', config.precision);
  }
  url.search = query.toString();
  return url;
}
