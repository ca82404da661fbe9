import { z } from 'zod';
import { anchoredRegex, scraperOptions } from '../../kit/config-types.ts';
import { enabledMetricNames, metricSwitchesSchema } from '../../kit/metric-switches.ts';
import { PROCESS_METRIC_NAMES, processMetadata } from './metadata.ts';

/**
 * The `process` receiver's configuration. Processes are selected by the union of the
 * `include` rules and the `top` rankings; with neither given, the top 20 by CPU and the top 20
 * by resident memory ({@link DEFAULT_TOP}).
 */

/** The selection when the config has neither `include` nor `top`. */
export const DEFAULT_TOP = { cpu: 20, memory: 20 } as const;

/**
 * Compiles a cgroup path glob into an anchored regular expression: `*` and `?` match within one
 * path segment, `**` matches across segments (`/kubepods/**` matches every pod's cgroups).
 */
export function cgroupGlobToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] ?? '';
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

const cgroupGlob = z
  .string()
  .refine((value) => value.startsWith('/'), {
    message:
      'must be a cgroup path starting with "/" (as in /proc/<pid>/cgroup), e.g. "/kubepods/**/pod<uid>/**"',
  })
  .transform((value) => ({ glob: value, regex: cgroupGlobToRegExp(value) }));

const containerId = z
  .string()
  .regex(
    /^[0-9a-f]{12,64}$/,
    'must be a container id: 12 to 64 lowercase hex digits (a prefix of the full id)',
  );

const absolutePath = z.string().refine((value) => value.startsWith('/'), {
  message: 'must be an absolute path (read under root_path)',
});

const count = z.number().int().min(0);

const includeSchema = z.strictObject({
  /** Anchored regexes matched against process.executable.name. */
  names: z.array(anchoredRegex()).default([]),
  /** Anchored regexes matched against the command line (arguments joined by spaces). */
  command_lines: z.array(anchoredRegex()).default([]),
  /** Anchored regexes matched against process.owner (the user name, or the uid without one). */
  owners: z.array(anchoredRegex()).default([]),
  /** Globs matched against every cgroup path of the process. */
  cgroups: z.array(cgroupGlob).default([]),
  /** Container ids (or prefixes of at least 12 digits) found in a cgroup path of the process. */
  container_ids: z.array(containerId).default([]),
  /** Files holding a pid, read on every scrape under root_path. */
  pid_files: z.array(absolutePath).default([]),
});

const topSchema = z.strictObject({
  /** The N processes that used the most CPU time since the previous scrape. */
  cpu: count.default(0),
  /** The N processes with the largest resident set. */
  memory: count.default(0),
});

/** The schema: defaults filled, every problem reported with its path. */
export const configSchema = z
  .strictObject({
    /** Where the host's root is mounted: files are read at `${root_path}/proc/…`. */
    root_path: absolutePath.default('/'),
    include: includeSchema.optional(),
    top: topSchema.optional(),
    /** Adds process.command_line to every data point (off: it can carry secrets). */
    command_line: z.boolean().default(false),
    /** A switch per metric: `process.cpu.utilization: { enabled: false }`. */
    metrics: metricSwitchesSchema(PROCESS_METRIC_NAMES),
    ...scraperOptions,
  })
  .transform(({ include, top, metrics, ...rest }) => {
    const enabled = enabledMetricNames(processMetadata.metrics, metrics);
    return {
      ...rest,
      include: include ?? includeSchema.parse({}),
      top: top ?? (include === undefined ? { ...DEFAULT_TOP } : { cpu: 0, memory: 0 }),
      /** The metrics to emit. */
      metrics: enabled,
    };
  });

/** The parsed configuration. */
export type ProcessConfig = z.output<typeof configSchema>;
