import { z } from 'zod';
import { duration, scraperOptions, Secret, secret } from '../../kit/config-types.ts';
import { enabledMetricNames, metricSwitchesSchema } from '../../kit/metric-switches.ts';
import { ipmiMetadata } from './metadata.ts';

/** IPMI 2.0 passwords are at most 20 bytes; IPMI 1.5 (`driver: LAN`) ones at most 16. */
const MAX_PASSWORD_BYTES = { LAN_2_0: 20, LAN: 16 } as const;

/**
 * A BMC password: any characters but line breaks and NUL, at most 20 bytes (IPMI 2.0). It
 * reaches FreeIPMI in its config file, quoted and escaped (see `freeipmiQuoted`); a line
 * break cannot be written there, and the only other ways in are a command line (`-p`,
 * visible to `ps`) or a terminal (`-P`), so it is refused.
 */
const bmcPassword = () =>
  z
    .string()
    .min(1, 'must not be empty')
    .refine(
      (v) => Buffer.byteLength(v, 'utf8') <= MAX_PASSWORD_BYTES.LAN_2_0,
      'at most 20 bytes (the IPMI 2.0 limit)',
    )
    .refine(
      (v) => !/[\r\n\0]/.test(v),
      'must not contain a line break or NUL: FreeIPMI reads passwords from a line-based file',
    )
    .pipe(secret());

const targetSchema = z.strictObject({
  /** BMC address, `host` or `host:port` (port 623 by default); absent: the local BMC, in-band. */
  host: z.string().min(1).optional(),
  /** Names the device the BMC belongs to (`device.id`); the host by default. */
  name: z.string().min(1).optional(),
  username: z.string().optional(),
  password: bmcPassword().optional(),
  /** FreeIPMI driver: `LAN_2_0` (lanplus, default) or `LAN` (IPMI 1.5). */
  driver: z.enum(['LAN_2_0', 'LAN']).optional(),
  /** FreeIPMI workarounds (`-W`), e.g. `opensesspriv` for BMCs that need it. */
  workarounds: z.array(z.string().regex(/^[a-z0-9]+$/)).optional(),
  /** Attributes added to every point of this BMC. */
  labels: z.record(z.string().min(1), z.string()).default({}),
});

export const configSchema = z
  .strictObject({
    targets: z.array(targetSchema).min(1),
    /** Defaults for every target (credentials shared by a fleet of BMCs). */
    username: z.string().optional(),
    password: bmcPassword().optional(),
    driver: z.enum(['LAN_2_0', 'LAN']).default('LAN_2_0'),
    workarounds: z.array(z.string().regex(/^[a-z0-9]+$/)).default([]),
    /** BMCs read at the same time at most. */
    max_concurrency: z.number().int().min(1).default(8),
    /** Per BMC: the tool is killed when it runs longer. */
    bmc_timeout: duration().prefault('10s'),
    /** Also read DCMI power statistics (`ipmi-dcmi --get-system-power-statistics`). */
    dcmi: z.boolean().default(false),
    ipmi_sensors_path: z.string().min(1).default('ipmi-sensors'),
    ipmi_dcmi_path: z.string().min(1).default('ipmi-dcmi'),
    /** FreeIPMI's SDR cache (one file per BMC); a directory under the system's temporary one by default. */
    sdr_cache_directory: z.string().min(1).optional(),
    /** A switch per metric: `hw.fan.speed: { enabled: false }`. */
    metrics: metricSwitchesSchema(ipmiMetadata.metrics.map((m) => m.name)),
    ...scraperOptions,
  })
  .superRefine((c, ctx) => {
    c.targets.forEach((t, i) => {
      if (t.host !== undefined && (t.username ?? c.username) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'username'],
          message: 'required for a BMC over the network (here or at the top level)',
        });
      }
      const password = t.password ?? c.password;
      const driver = t.driver ?? c.driver;
      // A password that failed its own checks is still a string here: reported already.
      if (
        password instanceof Secret &&
        Buffer.byteLength(password.reveal(), 'utf8') > MAX_PASSWORD_BYTES[driver]
      ) {
        ctx.addIssue({
          code: 'custom',
          path: t.password === undefined ? ['password'] : ['targets', i, 'password'],
          message: `at most ${String(MAX_PASSWORD_BYTES[driver])} bytes with driver ${driver} (IPMI 1.5)${t.password === undefined ? `, which targets[${String(i)}] uses` : ''}`,
        });
      }
    });
  })
  .transform(({ metrics, ...rest }) => ({
    ...rest,
    metrics: enabledMetricNames(ipmiMetadata.metrics, metrics),
  }));

export interface IpmiTarget {
  host?: string | undefined;
  name?: string | undefined;
  username?: string | undefined;
  password?: Secret | undefined;
  driver?: 'LAN_2_0' | 'LAN' | undefined;
  workarounds?: string[] | undefined;
  labels: Record<string, string>;
}

export interface IpmiConfig {
  targets: IpmiTarget[];
  username?: string | undefined;
  password?: Secret | undefined;
  driver: 'LAN_2_0' | 'LAN';
  workarounds: string[];
  max_concurrency: number;
  bmc_timeout: number;
  dcmi: boolean;
  ipmi_sensors_path: string;
  ipmi_dcmi_path: string;
  sdr_cache_directory?: string | undefined;
  /** The metrics to emit. */
  metrics: ReadonlySet<string>;
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
}
