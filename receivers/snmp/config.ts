import { z } from 'zod';
import type { Secret } from '../../kit/config-types.ts';
import { duration, formatHostPort, scraperOptions, secret } from '../../kit/config-types.ts';
import type { InstrumentType, MetricValueType, Profile } from './profile.ts';
import { attributeName, profileAttributeNames, profileSchema } from './profile.ts';
import { BUILTIN_PROFILES } from './profiles/builtin.ts';
import { DEVICE_ATTRIBUTES } from './metadata.ts';
import { openMetricSwitchesSchema, unknownMetricMessage } from '../../kit/metric-switches.ts';
import type { MetricSwitches } from '../../kit/metric-switches.ts';

/**
 * The `snmp` receiver's configuration: credential sets under `auth`, user profiles under
 * `profiles`, and the `targets` that name both. One receiver polls many devices; each target
 * adds `snmp.target` and `device.id` to its data points.
 */

/** SNMPv3 authentication protocols (RFC 3414 HMAC-MD5/SHA-1, RFC 7860 HMAC-SHA-2). */
export const AUTH_PROTOCOLS = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
/** SNMPv3 privacy protocols: DES (RFC 3414), AES-128 (RFC 3826), AES-256 with Blumenthal or Reeder key localisation. */
export const PRIV_PROTOCOLS = ['des', 'aes', 'aes256b', 'aes256r'] as const;
/** SNMPv3 security levels (RFC 3411 §3.4.3). */
export const SECURITY_LEVELS = ['no_auth_no_priv', 'auth_no_priv', 'auth_priv'] as const;

export type AuthProtocol = (typeof AUTH_PROTOCOLS)[number];
export type PrivProtocol = (typeof PRIV_PROTOCOLS)[number];
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

/** Credentials of one target, resolved. */
export type SnmpAuth =
  | { readonly version: 'v1' | 'v2c'; readonly community: Secret }
  | {
      readonly version: 'v3';
      readonly user: string;
      readonly security_level: SecurityLevel;
      readonly auth_protocol: AuthProtocol;
      readonly auth_password?: Secret | undefined;
      readonly priv_protocol: PrivProtocol;
      readonly priv_password?: Secret | undefined;
      readonly context: string;
    };

/** RFC 3414 §11.2: pass phrases shorter than 8 characters are refused by agents. */
const MIN_PASSWORD_LENGTH = 8;

const V3_ONLY = [
  'user',
  'security_level',
  'auth_protocol',
  'auth_password',
  'priv_protocol',
  'priv_password',
  'context',
] as const;

const authSchema = z
  .strictObject({
    version: z.enum(['v1', 'v2c', 'v3']),
    /** v1, v2c: the community string (a secret: use `${env:…}`). */
    community: secret().optional(),
    /** v3: the USM user name. */
    user: z.string().min(1).optional(),
    /** v3: defaults to auth_priv. */
    security_level: z.enum(SECURITY_LEVELS).optional(),
    /** v3: defaults to sha. */
    auth_protocol: z.enum(AUTH_PROTOCOLS).optional(),
    auth_password: secret().optional(),
    /** v3: defaults to aes (AES-128). */
    priv_protocol: z.enum(PRIV_PROTOCOLS).optional(),
    priv_password: secret().optional(),
    /** v3: the context name, empty by default. */
    context: z.string().optional(),
  })
  .transform((auth, ctx): SnmpAuth => {
    if (auth.version !== 'v3') {
      for (const key of V3_ONLY)
        if (auth[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: 'only with version v3' });
      if (auth.community === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['community'],
          message: `required when version is ${auth.version}`,
        });
        return z.NEVER;
      }
      return { version: auth.version, community: auth.community };
    }
    if (auth.community !== undefined)
      ctx.addIssue({ code: 'custom', path: ['community'], message: 'only with version v1 or v2c' });
    const level = auth.security_level ?? 'auth_priv';
    const checkPassword = (key: 'auth_password' | 'priv_password', needed: boolean): void => {
      const password = auth[key];
      if (needed && password === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `required when security_level is ${level}` });
      else if (!needed && password !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `not used when security_level is ${level}` });
      else if (password !== undefined && password.reveal().length < MIN_PASSWORD_LENGTH)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must be at least ${MIN_PASSWORD_LENGTH} characters`,
        });
    };
    checkPassword('auth_password', level !== 'no_auth_no_priv');
    checkPassword('priv_password', level === 'auth_priv');
    if (auth.user === undefined) {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'required when version is v3' });
      return z.NEVER;
    }
    return {
      version: 'v3',
      user: auth.user,
      security_level: level,
      auth_protocol: auth.auth_protocol ?? 'sha',
      auth_password: auth.auth_password,
      priv_protocol: auth.priv_protocol ?? 'aes',
      priv_password: auth.priv_password,
      context: auth.context ?? '',
    };
  });

/** Either the name of an entry under `auth`, or credentials written in place. */
const authReference = z.unknown().transform((value, ctx): string | SnmpAuth => {
  if (typeof value === 'string' && value !== '') return value;
  const parsed = authSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
  return z.NEVER;
});

const targetSchema = z.strictObject({
  /** `snmp.target` on the target's points; defaults to `address:port` (`[address]:port` for IPv6). */
  name: z.string().min(1).optional(),
  /** Host name or IP address of the agent. */
  address: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(161),
  /** udp6 when the address is an IPv6 literal, udp4 otherwise. */
  transport: z.enum(['udp4', 'udp6']).optional(),
  /** The name of an entry under `auth`, or credentials in place. */
  auth: authReference,
  /** Built-in or user profiles to read from this device. */
  profiles: z.array(z.string().min(1)).min(1, 'name at least one profile'),
  /** `device.id` on the target's points; defaults to the target's name. */
  device_id: z.string().min(1).optional(),
  /** How often this target is polled: a multiple of collection_interval is best; defaults to it. */
  interval: duration().optional(),
  /** Time to wait for each response before a retry. */
  timeout: duration().default(2000),
  /** Resends of an unanswered request. */
  retries: z.number().int().min(0).max(10).default(1),
  /** GETBULK max-repetitions: rows per column per request. */
  max_repetitions: z.number().int().min(1).max(500).default(20),
  /** Fixed attributes of every point of this target (rack, site, …). */
  attributes: z.record(attributeName, z.string()).default({}),
});

const profileNameSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower_snake_case profile name');

/** The instrument of a metric name, as published once for the whole receiver. */
export interface InstrumentSpec {
  readonly instrument: InstrumentType;
  readonly unit: string;
  readonly description: string;
  /** `double` when any profile's metric of this name is a double, `int` otherwise. */
  readonly value_type: MetricValueType;
}

/** One target, its references resolved. */
export interface ResolvedTarget {
  readonly name: string;
  readonly device_id: string;
  readonly address: string;
  readonly port: number;
  readonly transport: 'udp4' | 'udp6';
  readonly auth: SnmpAuth;
  readonly profiles: readonly { readonly name: string; readonly profile: Profile }[];
  readonly interval: number;
  readonly timeout: number;
  readonly retries: number;
  readonly max_repetitions: number;
  readonly attributes: Readonly<Record<string, string>>;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A profile without the metrics switched off (and without a table left with none). */
function withoutSwitchedOff(profile: Profile, switches: MetricSwitches): Profile {
  const on = (metric: { name: string }) => switches[metric.name]?.enabled !== false;
  if (![...profile.scalars.metrics, ...profile.tables.flatMap((t) => t.metrics)].some((m) => !on(m)))
    return profile;
  return {
    ...profile,
    scalars: { ...profile.scalars, metrics: profile.scalars.metrics.filter(on) },
    tables: profile.tables
      .map((table) => ({ ...table, metrics: table.metrics.filter(on) }))
      .filter((table) => table.metrics.length > 0),
  };
}

function describeNames(names: Iterable<string>): string {
  const list = [...names];
  return list.length === 0 ? 'none' : list.join(', ');
}

/** The schema: defaults filled, references checked, every problem reported with its path. */
export const configSchema = z
  .strictObject({
    ...scraperOptions,
    /** Targets polled at the same time; the others wait their turn. */
    max_concurrent_targets: z.number().int().min(1).max(10_000).default(32),
    /** Credential sets, referenced by name from targets. */
    auth: z.record(z.string().min(1), authSchema).default({}),
    /** User profiles, referenced by name from targets like the built-in ones. */
    profiles: z.record(profileNameSchema, profileSchema).default({}),
    targets: z.array(targetSchema).default([]),
    /**
     * A switch per metric of the profiles (built-in and defined here), by name:
     * `hw.temperature: { enabled: false }` stops reading and reporting it.
     */
    metrics: openMetricSwitchesSchema(),
  })
  .transform((config, ctx) => {
    const scrapeTimeout = config.timeout ?? config.collection_interval;
    if (config.timeout !== undefined && config.timeout > config.collection_interval)
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: 'must not be longer than collection_interval',
      });

    for (const name of Object.keys(config.profiles)) {
      if (BUILTIN_PROFILES.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', name],
          message: 'is a built-in profile: choose another name',
        });
    }
    const profileOf = (name: string): Profile | undefined =>
      config.profiles[name] ?? BUILTIN_PROFILES.get(name);

    // One instrument per metric name: every profile that uses a name must agree on it.
    const instruments = new Map<string, InstrumentSpec & { readonly profile: string }>();
    for (const [profileName, profile] of [...BUILTIN_PROFILES, ...Object.entries(config.profiles)]) {
      const groups = [
        { path: ['scalars'], metrics: profile.scalars.metrics },
        ...profile.tables.map((table, t) => ({ path: ['tables', t], metrics: table.metrics })),
      ];
      for (const group of groups) {
        group.metrics.forEach((metric, m) => {
          const known = instruments.get(metric.name);
          if (known === undefined) {
            instruments.set(metric.name, { ...metric, profile: profileName });
          } else if (known.instrument !== metric.instrument || known.unit !== metric.unit) {
            ctx.addIssue({
              code: 'custom',
              path: ['profiles', profileName, ...group.path, 'metrics', m, 'instrument'],
              message: `${metric.name} is a ${known.instrument} in ${known.unit} in profile ${known.profile}`,
            });
          } else if (metric.value_type === 'double' && known.value_type === 'int') {
            // A name is one metric: a double in any profile makes it a double.
            instruments.set(metric.name, { ...known, value_type: 'double' });
          }
        });
      }
    }

    for (const name of Object.keys(config.metrics)) {
      if (!instruments.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['metrics', name],
          message: unknownMetricMessage(name, [...instruments.keys()].sort()),
        });
    }

    const names = new Map<string, number>();
    const targets: ResolvedTarget[] = [];
    config.targets.forEach((target, i) => {
      const path = ['targets', i];
      const name = target.name ?? formatHostPort({ host: target.address, port: target.port });
      const first = names.get(name);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [...path, target.name === undefined ? 'address' : 'name'],
          message: `target "${name}" is already targets[${first}]: give one of them another name`,
        });
      else names.set(name, i);

      let auth: SnmpAuth | undefined;
      if (typeof target.auth === 'string') {
        auth = config.auth[target.auth];
        if (auth === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'auth'],
            message: `unknown auth "${target.auth}" (defined under auth: ${describeNames(Object.keys(config.auth))})`,
          });
      } else auth = target.auth;

      const profiles: { name: string; profile: Profile }[] = [];
      target.profiles.forEach((profileName, p) => {
        const profile = profileOf(profileName);
        if (profile === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'profiles', p],
            message: `unknown profile "${profileName}" (built in: ${describeNames(BUILTIN_PROFILES.keys())}; defined under profiles: ${describeNames(Object.keys(config.profiles))})`,
          });
        else profiles.push({ name: profileName, profile: withoutSwitchedOff(profile, config.metrics) });
      });

      for (const key of Object.keys(target.attributes)) {
        const owner = (DEVICE_ATTRIBUTES as readonly string[]).includes(key)
          ? 'the receiver'
          : profiles.find((p) => profileAttributeNames(p.profile).has(key))?.name;
        if (owner !== undefined)
          ctx.addIssue({ code: 'custom', path: [...path, 'attributes', key], message: `is set by ${owner}` });
      }

      const interval = target.interval ?? config.collection_interval;
      if (interval < config.collection_interval)
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'interval'],
          message: `must not be shorter than collection_interval (${formatMs(config.collection_interval)})`,
        });
      const worstCase = target.timeout * (target.retries + 1);
      if (worstCase >= scrapeTimeout)
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'timeout'],
          message: `timeout × (retries + 1) = ${formatMs(worstCase)} must be shorter than the scrape timeout (${formatMs(scrapeTimeout)})`,
        });

      if (auth === undefined) return;
      targets.push({
        name,
        device_id: target.device_id ?? name,
        address: target.address,
        port: target.port,
        transport: target.transport ?? (target.address.includes(':') ? 'udp6' : 'udp4'),
        auth,
        profiles,
        interval,
        timeout: target.timeout,
        retries: target.retries,
        max_repetitions: target.max_repetitions,
        attributes: target.attributes,
      });
    });

    // Register only what the targets use: an unused profile adds no instruments.
    const used: Map<string, InstrumentSpec> = new Map();
    for (const target of targets) {
      for (const { profile } of target.profiles) {
        for (const metric of [...profile.scalars.metrics, ...profile.tables.flatMap((t) => t.metrics)]) {
          const spec = instruments.get(metric.name);
          if (spec !== undefined)
            used.set(metric.name, {
              instrument: spec.instrument,
              unit: spec.unit,
              description: spec.description,
              value_type: spec.value_type,
            });
        }
      }
    }

    return {
      collection_interval: config.collection_interval,
      initial_delay: config.initial_delay,
      timeout: config.timeout,
      max_concurrent_targets: config.max_concurrent_targets,
      targets,
      /** Every metric name the targets can emit, with its instrument. */
      instruments: used,
    };
  });

/** The parsed configuration. */
export type SnmpConfig = z.output<typeof configSchema>;
