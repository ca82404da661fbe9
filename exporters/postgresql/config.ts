import { z } from 'zod';
import { duration, Secret, secret } from '../../kit/config-types.ts';
import { deliveryOptions } from '../../kit/delivery/config.ts';
import type { DeliveryConfig } from '../../kit/delivery/config.ts';

/** Where to connect, resolved from either `endpoint` or the `db_*` keys. */
export interface ConnectionTarget {
  /** Host name, address, or the directory of a Unix socket (starts with `/`). */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret | undefined;
}

/**
 * The `postgresql` exporter's settings. The connection keys are kwollect's own
 * (`db_host`, `db_port`, `db_name`, `db_user`, `db_password`), so a kwollector config's
 * values carry over; `endpoint` takes a `postgresql://` URL instead.
 */
export const configSchema = z
  .strictObject({
    /**
     * `postgresql://user[:password]@host[:port]/database` (or `postgres://`); a secret, since
     * it may hold the password. Exclusive with `db_host`, `db_port`, `db_name` and `db_user`.
     */
    endpoint: secret().optional(),
    /** Server host name or address, or the directory of its Unix socket. kwollect's default. */
    db_host: z.string().min(1).optional(),
    db_port: z.number().int().min(1).max(65_535).optional(),
    db_name: z.string().min(1).optional(),
    db_user: z.string().min(1).optional(),
    /** The password (also with `endpoint`, so that the URL holds none). */
    db_password: secret().optional(),
    /**
     * On a database without a `metrics` table, create kwollect's schema (table, indexes,
     * views, `nodetime_per_job`, `promoted_metrics`, `api.get_metrics`). A database that has
     * one is never changed.
     */
    create_schema: z.boolean().default(true),
    /**
     * Attributes that give a point's `device_id`: the first of them among the point's
     * attributes, else the first among the resource's. The one used is left out of `labels`.
     */
    device_id_attributes: z.array(z.string().min(1)).min(1).default(['device_id', 'device.id', 'host.name']),
    /** Resource attributes copied into every row's `labels` (none by default). */
    resource_labels: z.array(z.string().min(1)).default([]),
    /**
     * The COPY form of the rows: `auto` writes COPY's binary form when the `metrics` columns
     * have exactly kwollect's types (read once at start, and logged), text otherwise; `text`
     * always writes text (the server converts it into whatever the columns are).
     */
    copy_format: z.enum(['auto', 'text']).default('auto'),
    /** Time limit of connecting, and of one statement (a COPY of one batch). */
    timeout: duration().prefault('30s'),
    ...deliveryOptions,
  })
  .superRefine((config, ctx) => {
    if (config.endpoint === undefined) return;
    for (const key of ['db_host', 'db_port', 'db_name', 'db_user'] as const) {
      if (config[key] !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'not with endpoint: use one or the other' });
    }
    const problem = parseEndpoint(config.endpoint.reveal());
    if (typeof problem === 'string') ctx.addIssue({ code: 'custom', path: ['endpoint'], message: problem });
  });

/** The `postgresql` exporter's parsed config. */
export interface PostgresqlExporterConfig extends DeliveryConfig {
  endpoint?: Secret | undefined;
  db_host?: string | undefined;
  db_port?: number | undefined;
  db_name?: string | undefined;
  db_user?: string | undefined;
  db_password?: Secret | undefined;
  create_schema: boolean;
  device_id_attributes: string[];
  resource_labels: string[];
  copy_format: 'auto' | 'text';
  timeout: number;
}

interface EndpointParts {
  host: string | undefined;
  port: number | undefined;
  database: string | undefined;
  user: string | undefined;
  password: string | undefined;
}

/** Splits a `postgresql://` URL; a string says what is wrong (never echoing the URL: it may hold a password). */
function parseEndpoint(text: string): EndpointParts | string {
  if (!/^postgres(?:ql)?:\/\//i.test(text)) return 'expected postgresql://user@host:port/database';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a valid URL (expected postgresql://user@host:port/database)';
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.search !== '' || url.hash !== '')
    return 'query parameters are not supported: use the exporter keys';
  return {
    host: url.hostname === '' ? undefined : url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? undefined : Number(url.port),
    database: database === '' ? undefined : database,
    user: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
  };
}

/**
 * The server, database and credentials to use. Defaults are kwollect's: `localhost`, 5432,
 * database `kwdb`, user `kwuser`. `db_password` wins over a password in `endpoint`.
 */
export function resolveTarget(config: PostgresqlExporterConfig): ConnectionTarget {
  const parsed = config.endpoint === undefined ? undefined : parseEndpoint(config.endpoint.reveal());
  if (typeof parsed === 'string') throw new Error(`endpoint: ${parsed}`);
  const password =
    config.db_password ?? (parsed?.password === undefined ? undefined : new Secret(parsed.password));
  return {
    host: parsed?.host ?? config.db_host ?? 'localhost',
    port: parsed?.port ?? config.db_port ?? 5432,
    database: parsed?.database ?? config.db_name ?? 'kwdb',
    user: parsed?.user ?? config.db_user ?? 'kwuser',
    password,
  };
}

/** `host:port/database` (no user, no password), for messages. */
export function describeTarget(target: ConnectionTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return target.host.startsWith('/')
    ? `${target.host} (socket, port ${String(target.port)})/${target.database}`
    : `${host}:${String(target.port)}/${target.database}`;
}
