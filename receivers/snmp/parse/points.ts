import type { AttributeSpec, InstrumentType, MetricSpec, Profile, TableSpec } from '../profile.ts';
import { fillIndexTemplate } from '../profile.ts';
import type { Column } from './table.ts';
import { indexPrefix, stripIndexSuffix } from './table.ts';
import type { DecodedVarbind, VarbindProblem } from './varbind.ts';
import { counterModulus, toAttributeString, toMetricNumber } from './varbind.ts';

/** What one poll of a target read: GET results by OID and walked columns by column OID. */
export interface PollData {
  readonly scalars: ReadonlyMap<string, DecodedVarbind>;
  readonly columns: ReadonlyMap<string, Column>;
}

/** One data point before counter handling: the raw reading and how to scale it. */
export interface Sample {
  readonly name: string;
  readonly instrument: InstrumentType;
  readonly attributes: Readonly<Record<string, string>>;
  /** The number the device sent (after value_map). */
  readonly raw: number | bigint;
  /** Where the raw value wraps (Counter32, Counter64 read as counters); undefined otherwise. */
  readonly modulus: bigint | undefined;
  /** The metric's scale_factor (or fallback_scale_factor). */
  readonly scale: number;
  /** Decimal digits of the raw value: it is divided by 10^digits. */
  readonly digits: number;
  /** Identity of the series within its target: metric name and instance OID. */
  readonly series: string;
  /** The OID (scalar) or column OID (table) the value was read from. */
  readonly oid: string;
}

/** An OID that gave no usable value. For tables, the column OID. */
export interface OidProblem {
  readonly oid: string;
  readonly problem: VarbindProblem;
  readonly detail: string;
}

const EMPTY_COLUMN: Column = new Map();
/** Decimal digits beyond this are not a sensor's resolution but a broken value. */
const MAX_DECIMAL_DIGITS = 15;

function toSample(
  metric: MetricSpec,
  decoded: DecodedVarbind & { ok: true },
  scale: number,
  digits: number,
  attributes: Readonly<Record<string, string>>,
  series: string,
  problemOid: string,
  problems: OidProblem[],
): Sample | undefined {
  const number = toMetricNumber(decoded.value);
  if (number === undefined) {
    problems.push({
      oid: problemOid,
      problem: 'not_a_number',
      detail: `${decoded.value.kind} value is not a number`,
    });
    return undefined;
  }
  let raw = number;
  let modulus = metric.instrument === 'counter' ? counterModulus(decoded.value) : undefined;
  if (metric.value_map !== undefined) {
    const mapped = metric.value_map.get(Number(number));
    if (mapped === undefined) return undefined;
    raw = mapped;
    modulus = undefined;
  }
  if (metric.ignore_values.length > 0 && metric.ignore_values.includes(Number(raw))) return undefined;
  return {
    name: metric.name,
    instrument: metric.instrument,
    attributes,
    raw,
    modulus,
    scale,
    digits,
    series,
    oid: problemOid,
  };
}

function scalarAttributes(
  specs: readonly AttributeSpec[],
  scalars: ReadonlyMap<string, DecodedVarbind>,
  problems: OidProblem[],
): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const spec of specs) {
    if (spec.value !== undefined) {
      attributes[spec.name] = spec.value;
      continue;
    }
    if (spec.oid === undefined) continue;
    const decoded = scalars.get(spec.oid);
    if (decoded === undefined) continue;
    if (!decoded.ok) {
      problems.push({ oid: decoded.oid, problem: decoded.problem, detail: decoded.detail });
      continue;
    }
    const text = toAttributeString(decoded.value);
    if (text !== '') attributes[spec.name] = text;
  }
  return attributes;
}

function evaluateScalars(profile: Profile, data: PollData, out: Sample[], problems: OidProblem[]): void {
  const { metrics } = profile.scalars;
  if (metrics.length === 0) return;
  const shared = scalarAttributes(profile.scalars.attributes, data.scalars, problems);
  for (const metric of metrics) {
    const primary = data.scalars.get(metric.oid);
    const fallback = metric.fallback_oid === undefined ? undefined : data.scalars.get(metric.fallback_oid);
    let sample: Sample | undefined;
    const attributes = { ...shared, ...metric.attributes };
    if (primary?.ok === true) {
      sample = toSample(
        metric,
        primary,
        metric.scale_factor,
        0,
        attributes,
        `${metric.name} ${metric.oid}`,
        metric.oid,
        problems,
      );
    } else if (fallback?.ok === true && metric.fallback_oid !== undefined) {
      sample = toSample(
        metric,
        fallback,
        metric.fallback_scale_factor,
        0,
        attributes,
        `${metric.name} ${metric.fallback_oid}`,
        metric.fallback_oid,
        problems,
      );
    } else if (primary?.ok === false) {
      problems.push({ oid: primary.oid, problem: primary.problem, detail: primary.detail });
    }
    if (sample !== undefined) out.push(sample);
  }
}

/** Attributes of one row of a table, by the row key (the index without any index_suffix). */
function createRowAttributes(
  table: TableSpec,
  columns: ReadonlyMap<string, Column>,
  problems: OidProblem[],
): (key: string) => Readonly<Record<string, string>> {
  const cache = new Map<string, Record<string, string>>();
  const reported = new Set<string>();
  return (key) => {
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const attributes: Record<string, string> = {};
    for (const spec of table.attributes) {
      if (spec.value !== undefined) attributes[spec.name] = spec.value;
      else if (spec.index !== undefined) attributes[spec.name] = fillIndexTemplate(spec.index, key);
      else if (spec.oid !== undefined) {
        const lookup = spec.index_length === undefined ? key : indexPrefix(key, spec.index_length);
        const decoded = lookup === undefined ? undefined : columns.get(spec.oid)?.get(lookup);
        if (decoded === undefined) continue;
        if (!decoded.ok) {
          if (!reported.has(spec.oid))
            problems.push({ oid: spec.oid, problem: decoded.problem, detail: decoded.detail });
          reported.add(spec.oid);
          continue;
        }
        const text = toAttributeString(decoded.value);
        if (text !== '') attributes[spec.name] = text;
      }
    }
    cache.set(key, attributes);
    return attributes;
  };
}

function decimalDigits(metric: MetricSpec, index: string, columns: ReadonlyMap<string, Column>): number {
  if (metric.decimal_digits_oid === undefined) return 0;
  const decoded = columns.get(metric.decimal_digits_oid)?.get(index);
  if (decoded?.ok !== true) return 0;
  const digits = toMetricNumber(decoded.value);
  if (typeof digits !== 'number' || !Number.isInteger(digits) || digits < 0 || digits > MAX_DECIMAL_DIGITS)
    return 0;
  return digits;
}

/**
 * `value` × scale / 10^digits, dividing where the scale is the inverse of an integer so that
 * tenths stay exact (21 × 0.1 is 2.1000000000000005, 21 / 10 is 2.1).
 */
export function applyScale(value: number, scale: number, digits: number): number {
  const shifted = digits > 0 ? value / 10 ** digits : value;
  if (scale === 1) return shifted;
  const inverse = 1 / scale;
  return Number.isInteger(inverse) ? shifted / inverse : shifted * scale;
}

function evaluateTable(table: TableSpec, data: PollData, out: Sample[], problems: OidProblem[]): void {
  const rowAttributes = createRowAttributes(table, data.columns, problems);
  for (const metric of table.metrics) {
    const primary = data.columns.get(metric.oid) ?? EMPTY_COLUMN;
    const reported = new Set<string>();
    const row = (index: string, decoded: DecodedVarbind, column: string, scale: number): void => {
      const key = metric.index_suffix === undefined ? index : stripIndexSuffix(index, metric.index_suffix);
      if (key === undefined) return;
      if (!decoded.ok) {
        if (!reported.has(column))
          problems.push({ oid: column, problem: decoded.problem, detail: decoded.detail });
        reported.add(column);
        return;
      }
      const attributes = { ...rowAttributes(key), ...metric.attributes };
      const digits = decimalDigits(metric, index, data.columns);
      const sample = toSample(
        metric,
        decoded,
        scale,
        digits,
        attributes,
        `${metric.name} ${column}.${index}`,
        column,
        problems,
      );
      if (sample !== undefined) out.push(sample);
    };
    for (const [index, decoded] of primary) row(index, decoded, metric.oid, metric.scale_factor);
    if (metric.fallback_oid === undefined) continue;
    for (const [index, decoded] of data.columns.get(metric.fallback_oid) ?? EMPTY_COLUMN) {
      if (primary.get(index)?.ok !== true)
        row(index, decoded, metric.fallback_oid, metric.fallback_scale_factor);
    }
  }
}

/**
 * Turns what a poll read into samples, one per point, following a profile. OIDs without a
 * usable value are reported in `problems` (once per OID or column) and left out; the rest of
 * the profile goes on.
 */
export function evaluateProfile(
  profile: Profile,
  data: PollData,
  out: Sample[],
  problems: OidProblem[],
): void {
  evaluateScalars(profile, data, out, problems);
  for (const table of profile.tables) evaluateTable(table, data, out, problems);
}
