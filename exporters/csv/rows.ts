import type { Attributes, HrTime } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * Turning batches into CSV rows: one tidy row per data point (histograms: one row per bucket
 * and statistic), with the same columns in the same order on every row. Pure: no I/O, no clock.
 */

/** The columns of every file, in order. README.md documents each. */
export const CSV_COLUMNS = [
  'timestamp',
  'host',
  'metric',
  'unit',
  'type',
  'value',
  'attributes',
  'resource',
  'start_timestamp',
] as const;

/** One row: a value for each of {@link CSV_COLUMNS}, in order. */
export type CsvRow = readonly [
  timestamp: string,
  host: string,
  metric: string,
  unit: string,
  type: string,
  value: string,
  attributes: string,
  resource: string,
  start_timestamp: string,
];

/** What the `type` column holds. */
export type CsvMetricType = 'gauge' | 'counter' | 'updowncounter' | 'histogram' | 'exponential_histogram';

/** The header line, with its line ending. A file starts with exactly these bytes. */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\n`;

/** The resource attribute that fills the `host` column. */
export const HOST_ATTRIBUTE = 'host.name';

/** Unit of the `.count` and `.bucket` rows of histograms: a dimensionless number of measurements. */
export const COUNT_UNIT = '1';

/** Options of {@link toRows}. */
export interface RowOptions {
  /** Fill the `resource` column; when false it is empty. */
  readonly includeResource: boolean;
}

/**
 * An HrTime as ISO 8601 UTC with milliseconds (`2026-11-22T18:00:00.123Z`), truncated to the
 * millisecond; empty when it is not a representable date.
 */
export function toIsoTimestamp(time: HrTime): string {
  const ms = time[0] * 1000 + Math.floor(time[1] / 1e6);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/** A JSON value: what an attribute value becomes in the `attributes` and `resource` columns. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  // Code-unit order, the same on every machine and locale.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * An attribute value (OpenTelemetry AnyValue) as JSON: strings, numbers and booleans as they
 * are (a non-finite number as null, as JSON.stringify does), byte arrays as base64 (as OTLP/JSON
 * does), a BigInt as a number when it is exact and as a string of digits otherwise, arrays
 * element by element, maps with their keys sorted; anything else as its string form.
 */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') {
    const asNumber = Number(value);
    return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value).sort(byKey)) {
      if (item !== undefined) out[key] = toJsonValue(item);
    }
    return out;
  }
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return '[function]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  // A class instance (an Error, a Map): its own enumerable fields, as JSON.stringify sees them.
  try {
    const json: unknown = JSON.parse(JSON.stringify(value));
    return toJsonValue(json);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Attributes as a compact JSON object with keys in code-unit order (`{}` when none); keys
 * whose value is undefined are left out. `skip` leaves one key out (host.name, which has its
 * own column).
 */
export function toSortedJson(attributes: Attributes, skip?: string): string {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(attributes).sort(byKey)) {
    if (value !== undefined && key !== skip) out[key] = toJsonValue(value);
  }
  return JSON.stringify(out);
}

/** An attribute value as one cell: a string as it is, nothing for none, JSON for anything else. */
export function toCellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(toJsonValue(value));
}

/** A number as JavaScript prints it: `42`, `0.5`, `1e+21`, `NaN`, `Infinity`; no separators. */
export function toValue(value: number): string {
  return String(value);
}

interface RowContext {
  readonly host: string;
  readonly resource: string;
  /** The `attributes` cell of an attribute set; points that share the object share the text. */
  readonly json: (attributes: Attributes) => string;
}

function row(
  context: RowContext,
  point: DataPoint<unknown>,
  metric: string,
  unit: string,
  type: CsvMetricType,
  value: number,
  attributes: string,
  withStart: boolean,
): CsvRow {
  return [
    toIsoTimestamp(point.endTime),
    context.host,
    metric,
    unit,
    type,
    toValue(value),
    attributes,
    context.resource,
    withStart ? toIsoTimestamp(point.startTime) : '',
  ];
}

/**
 * The rows of one metric. Sums and gauges give one row per point. An explicit-bucket
 * histogram point gives, Prometheus-like, one `<name>.bucket` row per bucket with an `le`
 * attribute (the bucket's upper bound, `+Inf` for the last) and the cumulative count, then
 * `<name>.sum`, `<name>.count`, `<name>.min` and `<name>.max` (each when the point has it).
 * An exponential histogram point gives `<name>.count`, `.sum`, `.min` and `.max` rows.
 */
function metricRows(context: RowContext, metric: MetricData, out: CsvRow[]): void {
  const { name, unit } = metric.descriptor;
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      for (const point of metric.dataPoints) {
        out.push(
          row(context, point, name, unit, 'gauge', point.value, context.json(point.attributes), false),
        );
      }
      return;
    case DataPointType.SUM: {
      const type = metric.isMonotonic ? 'counter' : 'updowncounter';
      for (const point of metric.dataPoints) {
        out.push(row(context, point, name, unit, type, point.value, context.json(point.attributes), true));
      }
      return;
    }
    case DataPointType.HISTOGRAM:
      for (const point of metric.dataPoints) {
        const { buckets, count, sum, min, max } = point.value;
        const attributes = context.json(point.attributes);
        let cumulative = 0;
        buckets.counts.forEach((bucketCount, i) => {
          cumulative += bucketCount;
          const bound = buckets.boundaries[i];
          const le = bound === undefined ? '+Inf' : toValue(bound);
          const bucketAttributes = toSortedJson({ ...point.attributes, le });
          out.push(
            row(
              context,
              point,
              `${name}.bucket`,
              COUNT_UNIT,
              'histogram',
              cumulative,
              bucketAttributes,
              true,
            ),
          );
        });
        if (sum !== undefined)
          out.push(row(context, point, `${name}.sum`, unit, 'histogram', sum, attributes, true));
        out.push(row(context, point, `${name}.count`, COUNT_UNIT, 'histogram', count, attributes, true));
        if (min !== undefined)
          out.push(row(context, point, `${name}.min`, unit, 'histogram', min, attributes, true));
        if (max !== undefined)
          out.push(row(context, point, `${name}.max`, unit, 'histogram', max, attributes, true));
      }
      return;
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      for (const point of metric.dataPoints) {
        const { count, sum, min, max } = point.value;
        const attributes = context.json(point.attributes);
        const type = 'exponential_histogram';
        out.push(row(context, point, `${name}.count`, COUNT_UNIT, type, count, attributes, true));
        if (sum !== undefined)
          out.push(row(context, point, `${name}.sum`, unit, type, sum, attributes, true));
        if (min !== undefined)
          out.push(row(context, point, `${name}.min`, unit, type, min, attributes, true));
        if (max !== undefined)
          out.push(row(context, point, `${name}.max`, unit, type, max, attributes, true));
      }
      return;
  }
}

/** Every row of a batch, in the batch's order (scope, metric, point). */
export function toRows(batch: ResourceMetrics, options: RowOptions): CsvRow[] {
  const attributes = batch.resource.attributes;
  const cache = new Map<Attributes, string>();
  const context: RowContext = {
    host: toCellText(attributes[HOST_ATTRIBUTE]),
    resource: options.includeResource ? toSortedJson(attributes, HOST_ATTRIBUTE) : '',
    json: (a) => {
      let text = cache.get(a);
      if (text === undefined) {
        text = toSortedJson(a);
        cache.set(a, text);
      }
      return text;
    },
  };
  const rows: CsvRow[] = [];
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) metricRows(context, metric, rows);
  }
  return rows;
}

/**
 * `toSortedJson` for the common case, without sorting or copying: keys already in code-unit
 * order and every value a string, a number, a boolean, null or undefined. JSON.stringify
 * then writes exactly what the general path writes (undefined left out, a non-finite number
 * as null). Undefined when the attributes are not of that shape.
 */
function flatSortedJson(attributes: Attributes): string | undefined {
  const keys = Object.keys(attributes);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] ?? '';
    if (i > 0 && !((keys[i - 1] ?? '') < key)) return undefined;
    const value = attributes[key];
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && value !== undefined && value !== null)
      return undefined;
  }
  return JSON.stringify(attributes);
}

/** Bound on the timestamps a formatter remembers (cleared when reached). */
const TIME_CACHE_SIZE = 4096;

/**
 * Formats batches straight into CSV text: the same bytes as `toCsvText(toRows(batch))`,
 * without building rows. It keeps, across batches, the text of timestamps (the points of a
 * collection share a few) and the attributes cell of frozen attribute sets (the OTLP
 * receiver shares one frozen object between the points that carry the same attributes);
 * attribute objects that are not frozen may change between batches and are looked up in a
 * cache of the batch only.
 */
export class CsvFormatter {
  readonly #times = new Map<number, string>();
  readonly #frozenCells = new WeakMap<Attributes, string>();
  #cells = new Map<Attributes, string>();

  #time(time: HrTime): string {
    const ms = time[0] * 1000 + Math.floor(time[1] / 1e6);
    let text = this.#times.get(ms);
    if (text === undefined) {
      const date = new Date(ms);
      text = Number.isNaN(date.getTime()) ? '' : date.toISOString();
      if (this.#times.size >= TIME_CACHE_SIZE) this.#times.clear();
      this.#times.set(ms, text);
    }
    return text;
  }

  /** The `attributes` field, quoted as CSV wants it. */
  #cell(attributes: Attributes): string {
    const frozen = Object.isFrozen(attributes);
    const cache = frozen ? this.#frozenCells : this.#cells;
    let cell = cache.get(attributes);
    if (cell === undefined) {
      cell = csvField(flatSortedJson(attributes) ?? toSortedJson(attributes));
      cache.set(attributes, cell);
    }
    return cell;
  }

  /** The CSV records of every point of a batch, in the batch's order; '' when it has none. */
  format(batch: ResourceMetrics, options: RowOptions): string {
    const resourceAttributes = batch.resource.attributes;
    const host = csvField(toCellText(resourceAttributes[HOST_ATTRIBUTE]));
    // `,<resource>,` between the attributes and the start timestamp.
    const middle = `,${options.includeResource ? csvField(toSortedJson(resourceAttributes, HOST_ATTRIBUTE)) : ''},`;
    this.#cells = new Map();
    let text = '';
    for (const scope of batch.scopeMetrics) {
      for (const metric of scope.metrics) text += this.#metric(metric, host, middle);
    }
    return text;
  }

  #metric(metric: MetricData, host: string, middle: string): string {
    const { name, unit } = metric.descriptor;
    // `<host>,<metric>,<unit>,<type>,` before the value.
    const head = (metricName: string, metricUnit: string, type: CsvMetricType): string =>
      `${host},${csvField(metricName)},${csvField(metricUnit)},${type},`;
    let text = '';
    switch (metric.dataPointType) {
      case DataPointType.GAUGE: {
        const prefix = head(name, unit, 'gauge');
        for (const point of metric.dataPoints) {
          text += `${this.#time(point.endTime)},${prefix}${toValue(point.value)},${this.#cell(point.attributes)}${middle}\n`;
        }
        return text;
      }
      case DataPointType.SUM: {
        const prefix = head(name, unit, metric.isMonotonic ? 'counter' : 'updowncounter');
        for (const point of metric.dataPoints) {
          text += `${this.#time(point.endTime)},${prefix}${toValue(point.value)},${this.#cell(point.attributes)}${middle}${this.#time(point.startTime)}\n`;
        }
        return text;
      }
      case DataPointType.HISTOGRAM: {
        const bucket = head(`${name}.bucket`, COUNT_UNIT, 'histogram');
        const sumHead = head(`${name}.sum`, unit, 'histogram');
        const countHead = head(`${name}.count`, COUNT_UNIT, 'histogram');
        const minHead = head(`${name}.min`, unit, 'histogram');
        const maxHead = head(`${name}.max`, unit, 'histogram');
        for (const point of metric.dataPoints) {
          const { buckets, count, sum, min, max } = point.value;
          const end = this.#time(point.endTime);
          const tail = `${middle}${this.#time(point.startTime)}\n`;
          let cumulative = 0;
          for (let i = 0; i < buckets.counts.length; i++) {
            cumulative += buckets.counts[i] ?? 0;
            const bound = buckets.boundaries[i];
            const le = bound === undefined ? '+Inf' : toValue(bound);
            const cell = csvField(toSortedJson({ ...point.attributes, le }));
            text += `${end},${bucket}${toValue(cumulative)},${cell}${tail}`;
          }
          const cell = this.#cell(point.attributes);
          if (sum !== undefined) text += `${end},${sumHead}${toValue(sum)},${cell}${tail}`;
          text += `${end},${countHead}${toValue(count)},${cell}${tail}`;
          if (min !== undefined) text += `${end},${minHead}${toValue(min)},${cell}${tail}`;
          if (max !== undefined) text += `${end},${maxHead}${toValue(max)},${cell}${tail}`;
        }
        return text;
      }
      case DataPointType.EXPONENTIAL_HISTOGRAM: {
        const type = 'exponential_histogram';
        const sumHead = head(`${name}.sum`, unit, type);
        const countHead = head(`${name}.count`, COUNT_UNIT, type);
        const minHead = head(`${name}.min`, unit, type);
        const maxHead = head(`${name}.max`, unit, type);
        for (const point of metric.dataPoints) {
          const { count, sum, min, max } = point.value;
          const end = this.#time(point.endTime);
          const tail = `${middle}${this.#time(point.startTime)}\n`;
          const cell = this.#cell(point.attributes);
          text += `${end},${countHead}${toValue(count)},${cell}${tail}`;
          if (sum !== undefined) text += `${end},${sumHead}${toValue(sum)},${cell}${tail}`;
          if (min !== undefined) text += `${end},${minHead}${toValue(min)},${cell}${tail}`;
          if (max !== undefined) text += `${end},${maxHead}${toValue(max)},${cell}${tail}`;
        }
        return text;
      }
    }
  }
}

/** A field as RFC 4180 wants it: quoted when it holds a comma, a double quote, LF or CR, quotes doubled. */
function csvField(field: string): string {
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${field.replaceAll('"', '""')}"`;
  }
  return field;
}

/**
 * Rows as CSV text (RFC 4180: a field is quoted when it holds a comma, a double quote, LF or
 * CR, and quotes are doubled), each record ending with LF. Written here rather than with a
 * general CSV library: this runs for every data point, and the fixed columns need no options.
 */
export function toCsvText(rows: readonly CsvRow[]): string {
  let text = '';
  for (const row of rows) {
    let line = csvField(row[0]);
    for (let i = 1; i < row.length; i++) line += `,${csvField(row[i] ?? '')}`;
    text += `${line}\n`;
  }
  return text;
}
