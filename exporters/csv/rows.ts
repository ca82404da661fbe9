import type { Attributes, HrTime } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, MetricDescriptor, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { valueText } from '../../kit/int64.ts';

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
  value: number | string,
  attributes: string,
  withStart: boolean,
): CsvRow {
  return [
    toIsoTimestamp(point.endTime),
    context.host,
    metric,
    unit,
    type,
    typeof value === 'string' ? value : toValue(value),
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
          row(context, point, name, unit, 'gauge', valueText(point), context.json(point.attributes), false),
        );
      }
      return;
    case DataPointType.SUM: {
      const type = metric.isMonotonic ? 'counter' : 'updowncounter';
      for (const point of metric.dataPoints) {
        out.push(
          row(context, point, name, unit, type, valueText(point), context.json(point.attributes), true),
        );
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

/** A record head kept for a metric descriptor, with what it was made from. */
interface KeptHead {
  readonly host: string;
  readonly name: string;
  readonly unit: string;
  readonly type: CsvMetricType;
  readonly bytes: Buffer;
}

/** A growing byte buffer that CSV records are written into. */
class ByteBuilder {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 256));
  }
  #reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  bytes(src: Uint8Array): void {
    this.#reserve(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }
  /** Text known to be ASCII (numbers as JavaScript prints them). */
  ascii(text: string): void {
    this.#reserve(text.length);
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }
  /** What was written: a view of the builder's buffer, overwritten by the next use. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Largest scratch buffer a formatter keeps between batches (a larger one is let go after use). */
const SCRATCH_KEPT_BYTES = 4 << 20;

/**
 * A copy of `bytes` in a buffer of exactly their size, sharing memory with nothing: keeping it
 * keeps `bytes.length` bytes alive, not a pool slab or a larger allocation it was cut from.
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy;
}

/**
 * The bytes of `text` in a buffer of their own, for what a formatter keeps across batches. A
 * small `Buffer.from` is cut from Node's shared 64 KiB pool slab, and one such slice kept in a
 * cache keeps its whole slab alive: the timestamp caches below, holding one slice of each slab
 * that the batch's other encodings had filled, pinned 15 MiB after a few hundred scrapes of the
 * default configuration (docs/performance.md, "Memory of the node agent").
 */
function ownedText(text: string, encoding: BufferEncoding): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, encoding));
  bytes.write(text, 0, encoding);
  return bytes;
}

/**
 * Formats batches straight into the UTF-8 bytes of their CSV records: the same bytes as
 * `toCsvText(toRows(batch))`, without building rows or one large string. The parts that
 * repeat are encoded once: the text of timestamps (the points of a collection share a few),
 * the attributes cell of frozen attribute sets (the OTLP receiver shares one frozen object
 * between the points that carry the same attributes) and the head of a metric's records (by
 * descriptor, checked against what it was made from) are kept across batches; attribute
 * objects that are not frozen may change between batches and are looked up in a cache of the
 * batch only.
 */
export class CsvFormatter {
  /** `<end timestamp>,` by millisecond. */
  readonly #ends = new Map<number, Buffer>();
  /** `,<resource>,<start timestamp>` and LF, by millisecond, for the batch's resource. */
  #tails = new Map<number, Buffer>();
  readonly #frozenCells = new WeakMap<Attributes, Buffer>();
  /** The head of a gauge's or sum's records by descriptor ({@link CsvFormatter#head}), kept across batches. */
  readonly #heads = new WeakMap<MetricDescriptor, KeptHead>();
  #cells = new Map<Attributes, Buffer>();
  /** `,<resource>,` of the batch being encoded. */
  #middle = '';
  /** `,<resource>,` and LF: the tail of a record without a start (gauges). */
  #gaugeTail: Buffer = Buffer.alloc(0);
  /** Where batches are encoded, reused from one batch to the next. */
  #scratch = new ByteBuilder(0);

  static #iso(ms: number): string {
    const date = new Date(ms);
    return Number.isNaN(date.getTime()) ? '' : date.toISOString();
  }

  static #ms(time: HrTime): number {
    return time[0] * 1000 + Math.floor(time[1] / 1e6);
  }

  // The last time seen and its bytes: the points of a batch mostly share one HrTime object.
  #lastEnd: HrTime | undefined;
  #lastEndBytes: Buffer = Buffer.alloc(0);
  #lastStart: HrTime | undefined;
  #lastTailBytes: Buffer = Buffer.alloc(0);

  #end(time: HrTime): Buffer {
    if (time === this.#lastEnd) return this.#lastEndBytes;
    this.#lastEnd = time;
    this.#lastEndBytes = this.#endOf(time);
    return this.#lastEndBytes;
  }

  #tail(time: HrTime): Buffer {
    if (time === this.#lastStart) return this.#lastTailBytes;
    this.#lastStart = time;
    this.#lastTailBytes = this.#tailOf(time);
    return this.#lastTailBytes;
  }

  #endOf(time: HrTime): Buffer {
    const ms = CsvFormatter.#ms(time);
    let bytes = this.#ends.get(ms);
    if (bytes === undefined) {
      bytes = ownedText(`${CsvFormatter.#iso(ms)},`, 'latin1');
      if (this.#ends.size >= TIME_CACHE_SIZE) this.#ends.clear();
      this.#ends.set(ms, bytes);
    }
    return bytes;
  }

  #tailOf(time: HrTime): Buffer {
    const ms = CsvFormatter.#ms(time);
    let bytes = this.#tails.get(ms);
    if (bytes === undefined) {
      bytes = ownedText(`${this.#middle}${CsvFormatter.#iso(ms)}\n`, 'utf8');
      if (this.#tails.size >= TIME_CACHE_SIZE) this.#tails.clear();
      this.#tails.set(ms, bytes);
    }
    return bytes;
  }

  /** The `attributes` field, quoted as CSV wants it. */
  #cell(attributes: Attributes): Buffer {
    const frozen = Object.isFrozen(attributes);
    const cache = frozen ? this.#frozenCells : this.#cells;
    let cell = cache.get(attributes);
    if (cell === undefined) {
      const text = `,${csvField(flatSortedJson(attributes) ?? toSortedJson(attributes))}`;
      // A frozen set's cell outlives the batch: it must not keep a pool slab alive.
      cell = frozen ? ownedText(text, 'utf8') : Buffer.from(text, 'utf8');
      cache.set(attributes, cell);
    }
    return cell;
  }

  /**
   * The CSV records of every point of a batch, in the batch's order (empty when it has none),
   * in the formatter's scratch buffer: valid until the next `encode()`; keep an
   * {@link ownedCopy} of what must outlive it.
   */
  encode(batch: ResourceMetrics, options: RowOptions): Buffer {
    const resourceAttributes = batch.resource.attributes;
    const host = csvField(toCellText(resourceAttributes[HOST_ATTRIBUTE]));
    // `,<resource>,` between the attributes and the start timestamp.
    const middle = `,${options.includeResource ? csvField(toSortedJson(resourceAttributes, HOST_ATTRIBUTE)) : ''},`;
    // An HrTime may be changed in place between batches: the identity cache lasts one batch.
    this.#lastEnd = this.#lastStart = undefined;
    if (middle !== this.#middle) {
      this.#middle = middle;
      this.#tails = new Map();
      this.#gaugeTail = ownedText(`${middle}\n`, 'utf8');
    }
    this.#cells = new Map();
    const out = this.#scratch;
    out.pos = 0;
    for (const scope of batch.scopeMetrics) {
      for (const metric of scope.metrics) this.#metric(out, metric, host);
    }
    const records = out.view();
    if (out.buf.length > SCRATCH_KEPT_BYTES) this.#scratch = new ByteBuilder(0);
    return records;
  }

  /** One record: `<end>,` `<host>,<metric>,<unit>,<type>,` value `,<cell>` `,<resource>,<start>` LF. */
  #record(
    out: ByteBuilder,
    end: Buffer,
    head: Buffer,
    value: number | string,
    cell: Buffer,
    tail: Buffer,
  ): void {
    out.bytes(end);
    out.bytes(head);
    out.ascii(typeof value === 'string' ? value : toValue(value));
    out.bytes(cell);
    out.bytes(tail);
  }

  /**
   * `<host>,<metric>,<unit>,<type>,` of a gauge's or sum's records. Receivers keep one
   * descriptor object per metric from scrape to scrape: its head is encoded once, and kept
   * while what it was made from is unchanged (a descriptor is not frozen and could be changed).
   */
  #head(descriptor: MetricDescriptor, host: string, type: CsvMetricType): Buffer {
    const { name, unit } = descriptor;
    const kept = this.#heads.get(descriptor);
    if (kept?.host === host && kept.name === name && kept.unit === unit && kept.type === type) {
      return kept.bytes;
    }
    // Kept across batches: it must not keep a pool slab alive.
    const bytes = ownedText(`${host},${csvField(name)},${csvField(unit)},${type},`, 'utf8');
    this.#heads.set(descriptor, { host, name, unit, type, bytes });
    return bytes;
  }

  #metric(out: ByteBuilder, metric: MetricData, host: string): void {
    const { name, unit } = metric.descriptor;
    // `<host>,<metric>,<unit>,<type>,` before the value, for a histogram's derived rows.
    const head = (metricName: string, metricUnit: string, type: CsvMetricType): Buffer =>
      Buffer.from(`${host},${csvField(metricName)},${csvField(metricUnit)},${type},`, 'utf8');
    switch (metric.dataPointType) {
      case DataPointType.GAUGE: {
        const prefix = this.#head(metric.descriptor, host, 'gauge');
        for (const point of metric.dataPoints) {
          this.#record(
            out,
            this.#end(point.endTime),
            prefix,
            valueText(point),
            this.#cell(point.attributes),
            this.#gaugeTail,
          );
        }
        return;
      }
      case DataPointType.SUM: {
        const prefix = this.#head(metric.descriptor, host, metric.isMonotonic ? 'counter' : 'updowncounter');
        for (const point of metric.dataPoints) {
          this.#record(
            out,
            this.#end(point.endTime),
            prefix,
            valueText(point),
            this.#cell(point.attributes),
            this.#tail(point.startTime),
          );
        }
        return;
      }
      case DataPointType.HISTOGRAM: {
        const bucket = head(`${name}.bucket`, COUNT_UNIT, 'histogram');
        const sumHead = head(`${name}.sum`, unit, 'histogram');
        const countHead = head(`${name}.count`, COUNT_UNIT, 'histogram');
        const minHead = head(`${name}.min`, unit, 'histogram');
        const maxHead = head(`${name}.max`, unit, 'histogram');
        for (const point of metric.dataPoints) {
          const { buckets, count, sum, min, max } = point.value;
          const end = this.#end(point.endTime);
          const tail = this.#tail(point.startTime);
          let cumulative = 0;
          for (let i = 0; i < buckets.counts.length; i++) {
            cumulative += buckets.counts[i] ?? 0;
            const bound = buckets.boundaries[i];
            const le = bound === undefined ? '+Inf' : toValue(bound);
            const cell = Buffer.from(`,${csvField(toSortedJson({ ...point.attributes, le }))}`, 'utf8');
            this.#record(out, end, bucket, cumulative, cell, tail);
          }
          const cell = this.#cell(point.attributes);
          if (sum !== undefined) this.#record(out, end, sumHead, sum, cell, tail);
          this.#record(out, end, countHead, count, cell, tail);
          if (min !== undefined) this.#record(out, end, minHead, min, cell, tail);
          if (max !== undefined) this.#record(out, end, maxHead, max, cell, tail);
        }
        return;
      }
      case DataPointType.EXPONENTIAL_HISTOGRAM: {
        const type = 'exponential_histogram';
        const sumHead = head(`${name}.sum`, unit, type);
        const countHead = head(`${name}.count`, COUNT_UNIT, type);
        const minHead = head(`${name}.min`, unit, type);
        const maxHead = head(`${name}.max`, unit, type);
        for (const point of metric.dataPoints) {
          const { count, sum, min, max } = point.value;
          const end = this.#end(point.endTime);
          const tail = this.#tail(point.startTime);
          const cell = this.#cell(point.attributes);
          this.#record(out, end, countHead, count, cell, tail);
          if (sum !== undefined) this.#record(out, end, sumHead, sum, cell, tail);
          if (min !== undefined) this.#record(out, end, minHead, min, cell, tail);
          if (max !== undefined) this.#record(out, end, maxHead, max, cell, tail);
        }
        return;
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
