import { z } from 'zod';
import { recordConfigWarning } from './config-warnings.ts';
import type { MetricMetadata } from './metadata.ts';

/**
 * The one shape of a receiver's metric switches, as the OpenTelemetry Collector's generated
 * configs have it:
 *
 * ```yaml
 * metrics:
 *   system.cpu.time: { enabled: false }   # one metric, by its catalogue name
 * groups:
 *   disk: { enabled: false }              # every metric of a group (receivers with groups)
 * ```
 *
 * A metric is emitted when its own switch says so; without one, when its group's switch says
 * so; without either, by its catalogue default (`enabled` in metadata.ts). A per-metric switch
 * wins over its group's.
 */

/** One switch. */
export interface MetricSwitch {
  readonly enabled: boolean;
}

/** `metrics:` as parsed: a switch per metric name given. */
export type MetricSwitches = Readonly<Record<string, MetricSwitch>>;

/** A group's switch as parsed (unset: each metric's own default). */
export interface GroupSwitch {
  readonly enabled?: boolean | undefined;
}

const metricSwitch = z.strictObject({ enabled: z.boolean() });

/** `unknown metric "x"; known metrics: a, b, c`, for an issue at the name's path. */
export function unknownMetricMessage(name: string, known: Iterable<string>): string {
  const list = [...known];
  return `unknown metric "${name}"; known metrics: ${list.length === 0 ? 'none' : list.join(', ')}`;
}

/**
 * The schema of `metrics:` for a receiver whose metric names are known when the schema is
 * built (its catalogue): a name not in it is reported at its path with the known names.
 */
export function metricSwitchesSchema(names: readonly string[]) {
  const known = new Set(names);
  return z
    .record(z.string(), metricSwitch)
    .check(
      // `when`: unknown names are reported beside the other problems, not only without them.
      z.superRefine(
        (switches: Record<string, unknown>, ctx) => {
          for (const name of Object.keys(switches)) {
            if (!known.has(name))
              ctx.addIssue({ code: 'custom', path: [name], message: unknownMetricMessage(name, names) });
          }
        },
        { when: () => true },
      ),
    )
    .default({});
}

/**
 * The schema of `metrics:` for a receiver whose metric names are only known once its whole
 * config is read (snmp: the profiles' names): check them with {@link unknownMetricMessage}.
 */
export function openMetricSwitchesSchema() {
  return z.record(z.string(), metricSwitch).default({});
}

/** A group's switch, with the group's own settings beside `enabled` when it has any. */
export function groupSwitchSchema<E extends z.ZodRawShape>(settings: E) {
  return z.strictObject({ enabled: z.boolean().optional(), ...settings });
}

/**
 * The schema of `groups:`: one entry per group (made with {@link groupSwitchSchema}); an
 * unknown group is reported at its path with the known ones.
 */
export function groupSwitchesSchema<S extends z.ZodRawShape>(shape: S) {
  const names = Object.keys(shape);
  return z
    .looseObject(shape)
    .check(
      z.superRefine(
        (value: Record<string, unknown>, ctx) => {
          for (const key of Object.keys(value)) {
            if (!names.includes(key))
              ctx.addIssue({
                code: 'custom',
                path: [key],
                message: `unknown metric group "${key}"; known groups: ${names.join(', ')}`,
              });
          }
        },
        { when: () => true },
      ),
    )
    .transform((value) => value as z.output<z.ZodObject<S>>)
    .prefault({} as z.input<z.ZodObject<S>>);
}

/**
 * The names of the metrics a configuration emits: each metric's own switch, else its group's,
 * else its catalogue default.
 */
export function enabledMetricNames(
  catalogue: readonly MetricMetadata[],
  metrics: MetricSwitches,
  groups: Readonly<Record<string, GroupSwitch | undefined>> = {},
): ReadonlySet<string> {
  const enabled = new Set<string>();
  for (const metric of catalogue) {
    if (metrics[metric.name]?.enabled ?? groups[metric.group]?.enabled ?? metric.enabled)
      enabled.add(metric.name);
  }
  return enabled;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value in YAML's flow style, for messages: `{ enabled: false, include: [sd.*] }`. */
export function toFlowYaml(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(toFlowYaml).join(', ')}]`;
  if (isRecord(value))
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${toFlowYaml(v)}`)
      .join(', ')} }`;
  if (typeof value === 'string')
    return /^[\w./*+?^$()|\\-]+$/.test(value) && !/^(true|false|null|~|\d.*)$/.test(value)
      ? value
      : JSON.stringify(value);
  return String(value);
}

/**
 * The text of a deprecation warning: the old form, the new key, and that the old one goes in
 * the next release.
 */
export function deprecationMessage(oldForm: string, newForm: string): string {
  return `deprecated: "${oldForm}" is still read in this release and will be rejected in the next one; write "${newForm}"`;
}

/**
 * How a receiver's group switches were written before `groups:`: under `metrics:`, as
 * `metrics: { disk: { enabled: false, … } }` (`object`) or `metrics: { disk: false }`
 * (`boolean`).
 */
export type LegacyGroupForm = 'object' | 'boolean';

/**
 * Moves group switches written in the old way under `metrics:` to `groups:`, translating
 * them, and records a deprecation warning for each one (see kit/config-warnings.ts). Meant as
 * the receiver schema's preprocessing step: `z.preprocess((raw, ctx) => migrateGroupSwitches(raw,
 * …), schema)`. A group given both ways is an error at the old key.
 */
export function migrateGroupSwitches(
  raw: unknown,
  groups: readonly string[],
  form: LegacyGroupForm,
  ctx: { addIssue: (issue: { code: 'custom'; path: (string | number)[]; message: string }) => void },
): unknown {
  if (!isRecord(raw) || !isRecord(raw.metrics)) return raw;
  const legacy = Object.keys(raw.metrics).filter((key) => groups.includes(key));
  if (legacy.length === 0) return raw;
  const metrics = Object.fromEntries(Object.entries(raw.metrics).filter(([key]) => !legacy.includes(key)));
  const given = raw.groups;
  const moved: Record<string, unknown> = isRecord(given) ? { ...given } : {};
  for (const group of legacy) {
    const old = raw.metrics[group];
    if (group in moved) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', group],
        message: `also given as groups.${group}: keep only groups.${group}`,
      });
      continue;
    }
    const translated = form === 'boolean' && typeof old === 'boolean' ? { enabled: old } : old;
    moved[group] = translated;
    recordConfigWarning(raw, {
      path: ['metrics', group],
      message: deprecationMessage(
        `metrics: { ${group}: ${toFlowYaml(old)} }`,
        `groups: { ${group}: ${toFlowYaml(translated)} }`,
      ),
    });
  }
  return given === undefined || isRecord(given) ? { ...raw, metrics, groups: moved } : raw;
}
