import { z } from 'zod';
import { SELF_METRIC_NAMES, snmpMetadata } from './metadata.ts';
import { isOid, normalizeOid } from './parse/oid.ts';

/**
 * A profile: what to read from one kind of device and how it becomes metrics. The built-in
 * profiles (`profiles/`) and the ones a user writes under `profiles:` share this schema.
 *
 * - `scalars`: single instances read with GET (`….0`), with attributes from static values or
 *   other scalar OIDs.
 * - `tables`: columns walked with GETBULK; each row of a metric's value column is one data point,
 *   with attributes from the row index, from other columns of the same row, or static values.
 */

/** The instruments a profile metric can be published with. */
export const INSTRUMENTS = ['gauge', 'counter', 'updowncounter'] as const;
/** One of {@link INSTRUMENTS}. */
export type InstrumentType = (typeof INSTRUMENTS)[number];

/** The value types a profile metric can be published with (the Collector's `value_type`). */
export const VALUE_TYPES = ['int', 'double'] as const;
/** One of {@link VALUE_TYPES}. */
export type MetricValueType = (typeof VALUE_TYPES)[number];

/**
 * The value type of a metric whose profile does not say: `int` when its values are integers by
 * construction (an SNMP INTEGER, Counter32, Counter64, Gauge32 or TimeTicks times an integer
 * scale, or an integer value_map), `double` when a fractional scale or decimal digits apply.
 */
function inferValueType(metric: {
  readonly scale_factor: number;
  readonly fallback_scale_factor?: number | undefined;
  readonly decimal_digits_oid?: string | undefined;
  readonly value_map?: Readonly<Record<string, number>> | undefined;
}): MetricValueType {
  const integral =
    Number.isInteger(metric.scale_factor) &&
    Number.isInteger(metric.fallback_scale_factor ?? metric.scale_factor) &&
    metric.decimal_digits_oid === undefined &&
    Object.values(metric.value_map ?? {}).every((v) => Number.isInteger(v));
  return integral ? 'int' : 'double';
}

const NAME_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;

/** A numeric OID, stored without its leading dot. */
export function oid(): z.ZodType<string, string> {
  return z
    .string()
    .refine(isOid, {
      message: 'must be a numeric OID such as 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)',
    })
    .transform(normalizeOid);
}

const metricName = z
  .string()
  .regex(NAME_PATTERN, 'must be a metric name such as hw.power (lowercase words joined by dots)');

/** An attribute key: lowercase words joined by dots, as in the semantic conventions. */
export const attributeName = z
  .string()
  .regex(NAME_PATTERN, 'must be an attribute name such as hw.name (lowercase words joined by dots)');

const TEMPLATE_PLACEHOLDER = /\{(\d+)\}/g;

/** Where an attribute's value comes from: exactly one of `value`, `oid` and `index`. */
const attributeSchema = z
  .strictObject({
    name: attributeName,
    /** A fixed value. */
    value: z.string().optional(),
    /**
     * A column (tables) or a scalar instance (scalars) whose value, as text, is the attribute's.
     * Binary strings are shown in hex; an empty string leaves the attribute out.
     */
    oid: oid().optional(),
    /**
     * Tables: a template over the row index: `{0}` is the whole index, `{1}`, `{2}`, … its
     * sub-identifiers (`pdu{1}.outlet{2}` for index `1.7`).
     */
    index: z.string().min(1).optional(),
    /** Tables, with `oid`: the column is indexed by the first N sub-identifiers of the row index. */
    index_length: z.number().int().min(1).optional(),
  })
  .superRefine((attribute, ctx) => {
    const sources = [attribute.value, attribute.oid, attribute.index].filter((s) => s !== undefined);
    if (sources.length !== 1)
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'needs exactly one of value, oid and index' });
    if (attribute.index_length !== undefined && attribute.oid === undefined)
      ctx.addIssue({ code: 'custom', path: ['index_length'], message: 'only with oid' });
  });

/** A metric read from one OID (scalar) or one column (table). */
const metricSchema = z
  .strictObject({
    name: metricName,
    /** The scalar instance (`….0`) or the table column to read. */
    oid: oid(),
    /** Taken from the receiver's catalogue for a listed name; required otherwise. */
    instrument: z.enum(INSTRUMENTS).optional(),
    /** UCUM unit; taken from the catalogue for a listed name, `1` otherwise. */
    unit: z.string().min(1).optional(),
    description: z.string().optional(),
    /** Read where `oid` has no value (the 32-bit IF-MIB counters behind the 64-bit ones). */
    fallback_oid: oid().optional(),
    /** Multiplies the raw value (a device reporting tenths of A: 0.1). */
    scale_factor: z
      .number()
      .refine((n) => Number.isFinite(n) && n !== 0, 'must be a finite non-zero number')
      .default(1),
    /** Multiplies values read from `fallback_oid`; defaults to `scale_factor`. */
    fallback_scale_factor: z
      .number()
      .refine((n) => Number.isFinite(n) && n !== 0, 'must be a finite non-zero number')
      .optional(),
    /** Tables: a column, indexed like the value, holding the number of decimal digits of the value. */
    decimal_digits_oid: oid().optional(),
    /**
     * Tables: keep only rows whose index ends with these sub-identifiers (a sensor type in the
     * index); attributes are then looked up by the index without them.
     */
    index_suffix: z
      .string()
      .regex(/^\d+(\.\d+)*$/, 'must be sub-identifiers such as "5" or "1.5"')
      .optional(),
    /** Maps raw integers to published values; rows whose value is not listed are left out. */
    value_map: z.record(z.string().regex(/^-?\d+$/, 'must be an integer'), z.number()).optional(),
    /** Raw values that mean "not available" on the device (APC answers -1). */
    ignore_values: z.array(z.number()).default([]),
    /** Fixed attributes of this metric's points. */
    attributes: z.record(attributeName, z.string()).default({}),
    /**
     * `int` or `double`; by default `int` when the values are integers by construction (no
     * fractional scale_factor, no decimal_digits_oid), `double` otherwise. A value that is not
     * an integer (an OCTET STRING holding "12.5") for an `int` metric is a varbind error.
     */
    value_type: z.enum(VALUE_TYPES).optional(),
  })
  .transform((metric, ctx) => {
    const listed = snmpMetadata.metrics.find((m) => m.name === metric.name);
    if (SELF_METRIC_NAMES.has(metric.name)) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: "is the receiver's own telemetry" });
      return z.NEVER;
    }
    if (listed !== undefined) {
      if (metric.instrument !== undefined && metric.instrument !== listed.instrument)
        ctx.addIssue({
          code: 'custom',
          path: ['instrument'],
          message: `${metric.name} is a ${listed.instrument} (see the metric table of the snmp receiver)`,
        });
      if (metric.unit !== undefined && metric.unit !== listed.unit)
        ctx.addIssue({
          code: 'custom',
          path: ['unit'],
          message: `${metric.name} is in ${listed.unit}: use scale_factor to convert`,
        });
    } else if (metric.instrument === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['instrument'],
        message:
          'required for a metric outside the catalogue of the snmp receiver: gauge, counter or updowncounter',
      });
      return z.NEVER;
    }
    const instrument: InstrumentType = listed?.instrument ?? metric.instrument ?? 'gauge';
    return {
      ...metric,
      instrument,
      unit: listed?.unit ?? metric.unit ?? '1',
      description: metric.description ?? listed?.description ?? `SNMP ${metric.oid}.`,
      fallback_scale_factor: metric.fallback_scale_factor ?? metric.scale_factor,
      value_type: metric.value_type ?? inferValueType(metric),
      value_map:
        metric.value_map === undefined
          ? undefined
          : new Map(Object.entries(metric.value_map).map(([raw, value]) => [Number(raw), value])),
    };
  });

const scalarGroupSchema = z
  .strictObject({
    attributes: z.array(attributeSchema).default([]),
    metrics: z.array(metricSchema).default([]),
  })
  .superRefine((group, ctx) => {
    group.attributes.forEach((attribute, i) => {
      if (attribute.index !== undefined)
        ctx.addIssue({ code: 'custom', path: ['attributes', i, 'index'], message: 'only in tables' });
    });
    group.metrics.forEach((metric, i) => {
      if (metric.index_suffix !== undefined)
        ctx.addIssue({ code: 'custom', path: ['metrics', i, 'index_suffix'], message: 'only in tables' });
      if (metric.decimal_digits_oid !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['metrics', i, 'decimal_digits_oid'],
          message: 'only in tables',
        });
    });
  });

const tableSchema = z.strictObject({
  /** What the table is, for documentation (`ifTable + ifXTable`). */
  name: z.string().optional(),
  attributes: z.array(attributeSchema).default([]),
  metrics: z.array(metricSchema).min(1, 'a table needs at least one metric'),
});

/** The schema of one profile. */
export const profileSchema = z.strictObject({
  description: z.string().optional(),
  scalars: scalarGroupSchema.prefault({}),
  tables: z.array(tableSchema).default([]),
});

/** A profile as written (YAML or a built-in profile module). */
export type ProfileInput = z.input<typeof profileSchema>;
/** A profile with defaults filled and instruments resolved. */
export type Profile = z.output<typeof profileSchema>;
/** One metric of a profile. */
export type MetricSpec = Profile['tables'][number]['metrics'][number];
/** One attribute source of a profile. */
export type AttributeSpec = Profile['tables'][number]['attributes'][number];
/** One table of a profile. */
export type TableSpec = Profile['tables'][number];

/** Fills an index template: `{0}` the whole index, `{n}` its n-th sub-identifier (from 1). */
export function fillIndexTemplate(template: string, index: string): string {
  const parts = index.split('.');
  return template.replace(TEMPLATE_PLACEHOLDER, (_, n: string) =>
    n === '0' ? index : (parts[Number(n) - 1] ?? ''),
  );
}

/** The attribute names a profile can put on a point (static, index and column attributes). */
export function profileAttributeNames(profile: Profile): Set<string> {
  const names = new Set<string>();
  const addMetric = (metric: MetricSpec): void => {
    for (const key of Object.keys(metric.attributes)) names.add(key);
  };
  for (const attribute of profile.scalars.attributes) names.add(attribute.name);
  profile.scalars.metrics.forEach(addMetric);
  for (const table of profile.tables) {
    for (const attribute of table.attributes) names.add(attribute.name);
    table.metrics.forEach(addMetric);
  }
  return names;
}
