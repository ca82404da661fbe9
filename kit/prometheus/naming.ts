/**
 * OpenTelemetry → Prometheus names, as the OpenTelemetry specification's "Prometheus and
 * OpenMetrics Compatibility" document defines them (compatibility/prometheus_and_openmetrics.md,
 * "Metric Metadata" and "Metric Attributes"), with the unit table of the OpenTelemetry
 * Collector's Prometheus translator. Pure functions: no I/O, no state.
 */

/** How a metric is exposed; decides its suffixes. */
export type PrometheusType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** UCUM units (the main unit, before any `/`) and the word Prometheus names carry for them. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  // Time
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  // Information
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  bit: 'bits',
  // SI
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Hz: 'hertz',
  Cel: 'celsius',
  // Dimensionless
  '%': 'percent',
};

/** UCUM units after a `/`, in the singular: `By/s` → `bytes_per_second`. */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  min: 'minute',
  h: 'hour',
  d: 'day',
  wk: 'week',
  mo: 'month',
  a: 'year',
  m: 'meter',
};

/** Splits on everything that is not a letter or a digit: `(lambda).fn_x#` → `lambda`, `fn`, `x`. */
function tokens(text: string): string[] {
  return text.split(/[^a-zA-Z0-9]+/).filter((token) => token !== '');
}

/** One side of a unit (`By`, `s`, `{packet}`) as name tokens; none for annotations in braces. */
function unitTokens(unit: string, words: Readonly<Record<string, string>>): string[] {
  const trimmed = unit.trim();
  if (trimmed === '' || trimmed.includes('{') || trimmed.includes('}')) return [];
  return tokens(words[trimmed] ?? trimmed);
}

/**
 * The Prometheus unit for an OpenTelemetry (UCUM) unit, as name tokens: `s` → [seconds],
 * `By/s` → [bytes, per, second], `{packet}/s` → [per, second], `1` → [ratio] for gauges and
 * nothing otherwise, `{packet}` → nothing. Units outside the table are kept, sanitized (`mW` → [mW]).
 */
function toUnitTokens(unit: string, ratio: boolean): string[] {
  if (unit.trim() === '1') return ratio ? ['ratio'] : [];
  const slash = unit.indexOf('/');
  const main = slash < 0 ? unit : unit.slice(0, slash);
  const per = slash < 0 ? '' : unit.slice(slash + 1);
  const mainTokens = main.trim() === '1' ? [] : unitTokens(main, UNIT_WORDS);
  const perTokens = unitTokens(per, PER_UNIT_WORDS);
  return perTokens.length > 0 ? [...mainTokens, 'per', ...perTokens] : mainTokens;
}

/** The Prometheus spelling of an OpenTelemetry unit, for OpenMetrics `# UNIT` (`seconds`, `bytes_per_second`). */
export function toPrometheusUnit(unit: string, isOtelGauge: boolean): string {
  return toUnitTokens(unit, isOtelGauge).join('_');
}

/** Whether `needle` occurs as a contiguous run in `haystack`. */
function containsRun(haystack: readonly string[], needle: readonly string[]): boolean {
  if (needle.length === 0) return true;
  for (let start = 0; start + needle.length <= haystack.length; start += 1) {
    if (needle.every((token, i) => haystack[start + i] === token)) return true;
  }
  return false;
}

/** What decides a metric's Prometheus name. */
export interface MetricNameInput {
  /** The OpenTelemetry name (`system.cpu.time`). */
  readonly name: string;
  /** The UCUM unit (`s`, `By`, `{packet}`, `1`); empty when none. */
  readonly unit: string;
  /** The exposed type: a monotonic sum is a counter, a non-monotonic sum a gauge. */
  readonly type: PrometheusType;
  /** True for an OpenTelemetry Gauge (only those get `_ratio` for unit `1`). */
  readonly isOtelGauge: boolean;
}

/** How names are built. */
export interface NamingOptions {
  /** Prefix joined with `_` (`inframeter` → `inframeter_system_cpu_time_seconds_total`). */
  readonly namespace?: string | undefined;
  /** Add unit suffixes, `_ratio` and `_total` (default true). */
  readonly addSuffixes?: boolean | undefined;
}

/** A metric's Prometheus name and the unit its name ends with. */
export interface PrometheusName {
  /**
   * The name samples carry (`system_cpu_time_seconds_total`); for histograms the base that
   * `_bucket`, `_sum` and `_count` extend. Empty when nothing valid is left of the name.
   */
  readonly name: string;
  /** The unit suffix the name carries (`seconds`), for OpenMetrics `# UNIT`; empty when none. */
  readonly unit: string;
}

/**
 * The Prometheus name of an OpenTelemetry metric: characters outside `[a-zA-Z0-9]` become `_`
 * (runs collapsed, none leading or trailing), then the unit (`_seconds`, `_bytes`,
 * `_per_second`; `_ratio` for gauges of unit `1`; none for `{annotations}`) unless the name
 * already contains it, then `_total` for counters (moved to the end when the name has it),
 * the namespace in front, and `_` before a leading digit.
 */
export function toPrometheusName(metric: MetricNameInput, options: NamingOptions = {}): PrometheusName {
  const addSuffixes = options.addSuffixes ?? true;
  let nameTokens = tokens(metric.name);
  let unit = '';
  if (addSuffixes) {
    const counter = metric.type === 'counter';
    if (counter && nameTokens.at(-1) === 'total') nameTokens = nameTokens.slice(0, -1);
    const suffix = toUnitTokens(metric.unit, metric.isOtelGauge);
    if (suffix.length > 0) {
      if (!containsRun(nameTokens, suffix)) nameTokens = [...nameTokens, ...suffix];
      // The unit is only declared when the name ends with it (OpenMetrics requires that).
      if (nameTokens.slice(-suffix.length).join('_') === suffix.join('_')) unit = suffix.join('_');
    }
    if (counter) nameTokens = [...nameTokens, 'total'];
  }
  const namespaceTokens = tokens(options.namespace ?? '');
  let name = [...namespaceTokens, ...nameTokens].join('_');
  if (nameTokens.length === 0) name = '';
  else if (/^[0-9]/.test(name)) name = `_${name}`;
  return { name, unit };
}

/**
 * A Prometheus label name for an attribute key: characters outside `[a-zA-Z0-9_]` become `_`,
 * runs of `_` collapse to one, and a leading digit or `_` gets `key` in front (`2xx` →
 * `key_2xx`, `_id` → `key_id`), so a label never starts with the reserved `__`.
 */
export function toLabelName(key: string): string {
  const label = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  if (label === '') return label;
  if (/^[0-9]/.test(label)) return `key_${label}`;
  if (label.startsWith('_')) return `key${label}`;
  return label;
}

/** Whether a string is a valid Prometheus label name that is not reserved (`__…`). */
export function isValidLabelName(name: string): boolean {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) && !name.startsWith('__');
}
