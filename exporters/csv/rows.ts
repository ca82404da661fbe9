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
