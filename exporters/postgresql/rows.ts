import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ExponentialHistogram, Histogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { binaryRow, jsonbField, postgresMicros, textField } from './copy-binary.ts';
import { CopyTextBuilder, escapeText, RowParts, RowTime } from './copy-text.ts';
import type { DeviceBytes, RowBuilder, RowSink } from './copy-text.ts';

export { escapeText } from './copy-text.ts';

/**
 * OpenTelemetry batches → rows of kwollect's `metrics` table (`timestamp`, `device_id`,
 * `metric_id`, `value`, `labels`), handed to a {@link RowSink}: PostgreSQL's COPY text
 * (copy-text.ts) or binary form (copy-binary.ts), or the memory queue's held form
 * (held-rows.ts). Pure: no I/O, no clock.
 *
 * - `timestamp`: the point's end time, to the microsecond (PostgreSQL's precision).
 * - `device_id`: the first of `deviceIdAttributes` among the point's attributes, else the
 *   first among the resource's.
 * - `metric_id`: the metric's name as the pipeline carries it.
 * - `value`: gauges and sums as they are; histograms as Prometheus flattens them
 *   (`<name>_bucket` per bound with `le`, cumulative; `<name>_count`, `<name>_sum`, and
 *   `<name>_min`/`<name>_max` when recorded); exponential histograms as `_count`, `_sum`,
 *   `_min`, `_max`.
 * - `labels`: the point's other attributes, plus the `resourceLabels` of the resource, as JSON.
 *
 * A point the store cannot hold (no device id, a value that is not finite, a NUL character,
 * a time outside years 1–9999) is left out and counted by reason.
 */

export interface RowOptions {
  readonly deviceIdAttributes: readonly string[];
  readonly resourceLabels: readonly string[];
}

/** What a conversion left out. */
export interface Conversion {
  /** Points left out, by reason. */
  readonly rejected: Map<string, number>;
  /** A metric name per reason, for the log. */
  readonly examples: Map<string, string>;
}

/** A COPY payload (text: lines each ending in `\n`, or binary) and what was left out. */
export interface Rows extends Conversion {
  /** The rows as the builder's COPY payload. */
  readonly text: Buffer;
  /** How many rows `text` holds. */
  readonly rows: number;
}

/** The column list the lines fill, in order. */
export const COPY_COLUMNS = '"timestamp", device_id, metric_id, value, labels';

const NO_DEVICE = 'no device id attribute';
const NOT_FINITE = 'value not finite';
const NUL = 'NUL character (PostgreSQL text cannot hold it)';
const BAD_TIME = 'timestamp outside years 1-9999';

/**
 * What a point's attributes give, whatever its resource: the device id found among them and
 * the labels JSON without it (undefined: a NUL character), as they are and as the bytes of
 * both COPY forms. Kept per attributes object, so that series whose attributes the OTLP
 * decoder shares between exports are looked at once.
 */
export interface PointFields {
  readonly device: string | undefined;
  readonly deviceHasNul: boolean;
  readonly labels: string | undefined;
  /** The end of the series' text rows, `\t<labels>\n` as UTF-8, escaped (labels known). */
  readonly tail: Uint8Array | undefined;
  /** The labels' jsonb field in the binary form (labels known). */
  readonly binaryLabels: Uint8Array | undefined;
  /** The device's column in both forms (device known). */
  readonly deviceField: DeviceBytes | undefined;
  /** Objects found by content (not by object) so far: see {@link PointFieldsCache}. */
  foundByContent: number;
}

/**
 * {@link PointFields} of the series seen, valid for one set of options: by attributes object
 * (a scraper's producer hands a series the same object at every collection), and by content
 * for producers that build new objects every time (the kwollect receiver's reshaping).
 *
 * An object found by content is entered by object too, for the first
 * {@link PointFieldsCache.MAX_OBJECTS_PER_SERIES} such objects of a series: the metrics of a
 * producer hold objects of equal content (each instrument its own), and all but the first
 * would otherwise be looked up by content at every batch (a WeakMap lookup is cheaper). Past
 * that the series is taken as one whose objects are new every time, for which entering each
 * would cost more than the lookup by content.
 */
export class PointFieldsCache {
  readonly #byObject = new WeakMap<Attributes, PointFields>();
  #byContent = new ContentIndex();
  #series = 0;

  /** Bound on the series remembered by content; past it the content cache starts over. */
  static readonly MAX_SERIES = 100_000;
  /** Objects of one content entered by object at most. */
  static readonly MAX_OBJECTS_PER_SERIES = 64;

  /** Metrics whose last batch is remembered at most; past it they start over. */
  static readonly MAX_METRICS = 10_000;

  readonly #lastSeries = new Map<string, LastSeries>();
  /** The columns of devices found on resources, so that a series' parts are made once. */
  readonly #resourceDevices = new Map<string, DeviceBytes>();

  /**
   * The series of `metric`'s previous batch, by position: the SDK lists a metric's series in
   * the same order at every collection, each with the same attributes object, so comparing
   * the object at a position finds its fields without a WeakMap lookup (a visible share of a
   * row's conversion: bench/postgresql.bench.ts, "ours, no queue"). The caller enters what it
   * looked up otherwise. Holds the attributes objects of one batch per metric until the next.
   */
  lastSeries(metric: string, points: number): LastSeries {
    let last = this.#lastSeries.get(metric);
    if (last === undefined) {
      if (this.#lastSeries.size >= PointFieldsCache.MAX_METRICS) this.#lastSeries.clear();
      last = { attributes: [], fields: [], parts: [] };
      this.#lastSeries.set(metric, last);
    }
    if (last.attributes.length > points) {
      last.attributes.length = points;
      last.fields.length = points;
      last.parts.length = points;
    }
    return last;
  }

  /** The column of a device id found on a resource, the same bytes every time. */
  resourceDevice(device: string): DeviceBytes {
    let bytes = this.#resourceDevices.get(device);
    if (bytes === undefined) {
      if (this.#resourceDevices.size >= PointFieldsCache.MAX_SERIES) this.#resourceDevices.clear();
      bytes = deviceBytes(device);
      this.#resourceDevices.set(device, bytes);
    }
    return bytes;
  }

  get(attributes: Attributes, deviceIdAttributes: readonly string[]): PointFields {
    let fields = this.#byObject.get(attributes);
    if (fields !== undefined) return fields;
    fields = this.#byContent.find(attributes);
    if (fields === undefined) {
      fields = pointFields(attributes, deviceIdAttributes);
      if (this.#series >= PointFieldsCache.MAX_SERIES) {
        this.#byContent = new ContentIndex();
        this.#series = 0;
      }
      this.#byContent.add(attributes, fields);
      this.#series += 1;
      this.#byObject.set(attributes, fields);
    } else if (fields.foundByContent < PointFieldsCache.MAX_OBJECTS_PER_SERIES) {
      fields.foundByContent += 1;
      this.#byObject.set(attributes, fields);
    }
    return fields;
  }
}

/**
 * True when `b` has the same attributes as `a`, in the same order, with the same scalar values
 * (an array value is never taken as the same): what decides a series' fields, its labels JSON
 * included. Cheaper than a lookup by content when a producer makes new objects at every
 * collection but lists its series in the same order (bench/postgresql.bench.ts,
 * `--fresh-attributes`).
 */
function sameAttributes(a: Attributes | undefined, b: Attributes): boolean {
  if (a === undefined) return false;
  const names: string[] = [];
  for (const name in a) names.push(name);
  let at = 0;
  for (const name in b) {
    const value: unknown = b[name];
    if (names[at] !== name || typeof value === 'object' || a[name] !== value) return false;
    at += 1;
  }
  return at === names.length;
}

/**
 * A metric's series in its last batch, by position: the attributes object, its fields, and the
 * parts of its rows (made when first needed).
 */
export interface LastSeries {
  readonly attributes: Attributes[];
  readonly fields: PointFields[];
  readonly parts: (SeriesParts | undefined)[];
}

/** A metric's column in both forms: `<metric>\t` (escaped), and its binary field. */
interface MetricBytes {
  readonly text: Uint8Array;
  readonly binary: Uint8Array;
}

/**
 * {@link RowParts} of a series: its device and the metric, its labels, in both forms; with
 * what they were made from, to tell whether they still hold.
 */
class SeriesParts extends RowParts {
  readonly fields: PointFields;
  readonly device: DeviceBytes;

  constructor(
    fields: PointFields,
    device: DeviceBytes,
    metric: MetricBytes,
    tail: Uint8Array,
    labels: Uint8Array,
  ) {
    const [row, valueAt] = binaryRow(device, metric.binary, labels);
    super(Buffer.concat([device.text, metric.text]), tail, row, valueAt);
    this.fields = fields;
    this.device = device;
  }
}

/** A device's column in both forms. */
function deviceBytes(device: string): DeviceBytes {
  return { text: Buffer.from(`${escapeText(device)}\t`), binary: textField(device) };
}

/**
 * Values found by attributes of equal content (same keys in the same order, same values), as a
 * tree walked key by key and value by value: no key string is built per lookup. A string key
 * joining every name and value cost about 6× as much per point (0.5 µs), most of the CPU of
 * producers that make new attributes objects at every collection.
 */
class ContentIndex {
  readonly #root = new ContentNode();

  find(attributes: Attributes): PointFields | undefined {
    let node: ContentNode | undefined = this.#root;
    for (const name in attributes) {
      const value: unknown = attributes[name];
      if (value === undefined) continue;
      node = node.next(name, value);
      if (node === undefined) return undefined;
    }
    return node.fields;
  }

  add(attributes: Attributes, fields: PointFields): void {
    let node = this.#root;
    for (const name in attributes) {
      const value: unknown = attributes[name];
      if (value === undefined) continue;
      node = node.next(name, value) ?? node.add(name, value);
    }
    node.fields = fields;
  }
}

/** One attribute further: by name, then by value (strings, numbers, booleans as they are; arrays by their JSON). */
class ContentNode {
  fields: PointFields | undefined;
  readonly #byName = new Map<
    string,
    { scalars: Map<unknown, ContentNode>; lists: Map<string, ContentNode> }
  >();

  next(name: string, value: unknown): ContentNode | undefined {
    const values = this.#byName.get(name);
    if (values === undefined) return undefined;
    return typeof value === 'object' ? values.lists.get(JSON.stringify(value)) : values.scalars.get(value);
  }

  add(name: string, value: unknown): ContentNode {
    let values = this.#byName.get(name);
    if (values === undefined) {
      values = { scalars: new Map(), lists: new Map() };
      this.#byName.set(name, values);
    }
    const node = new ContentNode();
    if (typeof value === 'object') values.lists.set(JSON.stringify(value), node);
    else values.scalars.set(value, node);
    return node;
  }
}

/**
 * Converts a batch into COPY text. What a series' rows share (device, metric, labels) is
 * worked out once per attributes object when `cache` is given, and each distinct time is
 * formatted once; `builder` (reused between batches) receives the rows.
 */
export function toCopyRows(
  batch: ResourceMetrics,
  options: RowOptions,
  cache?: PointFieldsCache,
  builder: RowBuilder = new CopyTextBuilder(64 * 1024),
): Rows {
  const conversion = convertRows(batch, options, cache, builder);
  const rows = builder.rows;
  return { text: builder.take(), rows, ...conversion };
}

/**
 * Converts a batch into rows handed to `sink` (in the same order every time for the same
 * batch and options); returns what was left out. See {@link toCopyRows}.
 */
export function convertRows(
  batch: ResourceMetrics,
  options: RowOptions,
  cache: PointFieldsCache | undefined,
  sink: RowSink,
): Conversion {
  const rejected = new Map<string, number>();
  const examples = new Map<string, string>();
  const out = { sink, rejected, examples };
  const resource = batch.resource.attributes;
  const extra: Attributes = {};
  let hasExtra = false;
  for (const key of options.resourceLabels) {
    const value = resource[key];
    if (value !== undefined) {
      extra[key] = value;
      hasExtra = true;
    }
  }
  // The resource's device id, for points without one of their own (unless it holds a NUL).
  const shared = findDevice(resource, options.deviceIdAttributes);
  let resourceDevice: DeviceBytes | undefined;
  if (shared !== undefined && !shared.includes('\u0000'))
    resourceDevice = cache?.resourceDevice(shared) ?? deviceBytes(shared);
  const times = new TimeFormatter();
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name;
      if (name.includes('\u0000')) {
        reject(out, NUL, name, metric.dataPoints.length);
        continue;
      }
      const metricBytes = { text: Buffer.from(`${escapeText(name)}\t`), binary: textField(name) };
      const plain =
        metric.dataPointType === DataPointType.GAUGE || metric.dataPointType === DataPointType.SUM;
      const points = metric.dataPoints;
      const last = cache?.lastSeries(name, points.length);
      for (let i = 0; i < points.length; i += 1) {
        const point = points[i] as (typeof points)[number];
        let fields: PointFields;
        if (cache === undefined || last === undefined)
          fields = pointFields(point.attributes, options.deviceIdAttributes);
        else if (last.attributes[i] === point.attributes) fields = last.fields[i] as PointFields;
        else if (sameAttributes(last.attributes[i], point.attributes)) {
          // A new object of the same content at the same place: a producer that builds its
          // attributes anew at each collection.
          fields = last.fields[i] as PointFields;
          last.attributes[i] = point.attributes;
        } else {
          fields = cache.get(point.attributes, options.deviceIdAttributes);
          last.attributes[i] = point.attributes;
          last.fields[i] = fields;
        }
        const device = fields.deviceField ?? resourceDevice;
        if (
          plain &&
          !hasExtra &&
          device !== undefined &&
          !fields.deviceHasNul &&
          fields.tail !== undefined &&
          fields.binaryLabels !== undefined
        ) {
          // The common case: everything but the time and value is the series'. Anything
          // unusual (a NUL, a time out of range, a value not finite) goes the general way.
          const time = times.field(point.endTime);
          const value = point.value as number;
          if (time !== undefined && Number.isFinite(value)) {
            let parts = last?.parts[i];
            if (parts?.fields !== fields || parts.device !== device) {
              parts = new SeriesParts(fields, device, metricBytes, fields.tail, fields.binaryLabels);
              if (last !== undefined) last.parts[i] = parts;
            }
            sink.pushRow(time, parts, value);
            continue;
          }
        }
        const time = times.field(point.endTime);
        let deviceText = fields.device;
        let labels = fields.labels;
        let nul = fields.deviceHasNul || labels === undefined;
        if (deviceText === undefined) {
          // From the resource: the point's labels keep all its attributes.
          if (shared === undefined) {
            reject(out, NO_DEVICE, name, 1);
            continue;
          }
          deviceText = shared;
          nul ||= shared.includes('\u0000');
        }
        if (hasExtra && labels !== undefined) labels = withExtra(labels, point.attributes, extra);
        if (nul || labels === undefined) {
          reject(out, NUL, name, 1);
          continue;
        }
        if (time === undefined) {
          reject(out, BAD_TIME, name, 1);
          continue;
        }
        const row = { time, device: deviceText, labels };
        switch (metric.dataPointType) {
          case DataPointType.GAUGE:
          case DataPointType.SUM: {
            const value = point.value as number;
            if (!Number.isFinite(value)) reject(out, NOT_FINITE, name, 1);
            else sink.push({ ...row, metric: name, value });
            break;
          }
          case DataPointType.HISTOGRAM:
            pushHistogram(out, row, name, point.value as Histogram);
            break;
          case DataPointType.EXPONENTIAL_HISTOGRAM: {
            const h = point.value as ExponentialHistogram;
            pushSummaryRows(out, row, name, h.count, h.sum, h.min, h.max);
            break;
          }
        }
      }
    }
  }
  return { rejected, examples };
}

/** Where rows go, and what was left out by reason. */
interface RowsOut {
  readonly sink: RowSink;
  readonly rejected: Map<string, number>;
  readonly examples: Map<string, string>;
}

/** What the rows of one point share: its time, device and labels JSON. */
interface PointRow {
  readonly time: RowTime;
  readonly device: string;
  readonly labels: string;
}

function pushHistogram(out: RowsOut, row: PointRow, name: string, h: Histogram): void {
  const values = [h.count, h.sum, h.min, h.max].filter((v): v is number => v !== undefined);
  if (!values.every(Number.isFinite)) {
    reject(out, NOT_FINITE, name, 1);
    return;
  }
  const bucketName = `${name}_bucket`;
  const { labels } = row;
  const open = labels === '{}' ? '{' : `${labels.slice(0, -1)},`;
  let cumulative = 0;
  const { boundaries, counts } = h.buckets;
  for (let i = 0; i < counts.length; i += 1) {
    cumulative += counts[i] ?? 0;
    const bound = boundaries[i];
    const le = bound === undefined ? '+Inf' : formatBound(bound);
    out.sink.push({ ...row, metric: bucketName, value: cumulative, labels: `${open}"le":"${le}"}` });
  }
  pushSummaryRows(out, row, name, h.count, h.sum, h.min, h.max);
}

function pushSummaryRows(
  out: RowsOut,
  row: PointRow,
  name: string,
  count: number,
  sum: number | undefined,
  min: number | undefined,
  max: number | undefined,
): void {
  const parts: [string, number | undefined][] = [
    ['_count', count],
    ['_sum', sum],
    ['_min', min],
    ['_max', max],
  ];
  if (!parts.every(([, v]) => v === undefined || Number.isFinite(v))) {
    reject(out, NOT_FINITE, name, 1);
    return;
  }
  for (const [suffix, value] of parts) {
    if (value === undefined) continue;
    out.sink.push({ ...row, metric: name + suffix, value });
  }
}

/** A bucket bound as Prometheus writes `le`. */
function formatBound(bound: number): string {
  if (bound === Infinity) return '+Inf';
  if (bound === -Infinity) return '-Inf';
  return String(bound);
}

function reject(out: RowsOut, reason: string, metric: string, points: number): void {
  out.rejected.set(reason, (out.rejected.get(reason) ?? 0) + points);
  if (!out.examples.has(reason)) out.examples.set(reason, metric);
}

/** The first of `keys` set in `attributes`, as a string. */
function findDevice(attributes: Attributes, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const id = scalar(attributes[key]);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** The device id among a point's own attributes, and its labels JSON without it, in both forms. */
function pointFields(attributes: Attributes, keys: readonly string[]): PointFields {
  let deviceKey: string | undefined;
  let device: string | undefined;
  for (const key of keys) {
    device = scalar(attributes[key]);
    if (device !== undefined) {
      deviceKey = key;
      break;
    }
  }
  const labels = labelsJson(attributes, deviceKey);
  return {
    device,
    deviceHasNul: device?.includes('\u0000') ?? false,
    labels,
    tail: labels === undefined ? undefined : Buffer.from(`\t${escapeText(labels)}\n`),
    binaryLabels: labels === undefined ? undefined : jsonbField(labels),
    deviceField: device === undefined ? undefined : deviceBytes(device),
    foundByContent: 0,
  };
}

/** Labels JSON with the resource's `extra` labels added (the point's own win). */
function withExtra(labels: string, attributes: Attributes, extra: Attributes): string | undefined {
  const more: string[] = [];
  for (const key in extra) {
    const value: unknown = extra[key];
    if (key in attributes || value === undefined) continue;
    if (key.includes('\u0000') || hasNul(value)) return undefined;
    more.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  if (more.length === 0) return labels;
  return labels === '{}' ? `{${more.join(',')}}` : `${labels.slice(0, -1)},${more.join(',')}}`;
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The labels as JSON: the point's attributes but the device id's; undefined when a string
 * holds a NUL character (jsonb refuses `\u0000`). Written key by key: copying the attributes
 * and deleting one is several times slower.
 */
function labelsJson(attributes: Attributes, deviceKey: string | undefined): string | undefined {
  const parts: string[] = [];
  let nul = false;
  for (const key in attributes) {
    const value: unknown = attributes[key];
    if (key === deviceKey || value === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    nul ||= key.includes('\u0000') || hasNul(value);
  }
  return nul ? undefined : `{${parts.join(',')}}`;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some((v) => typeof v === 'string' && v.includes('\u0000'));
  return false;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+00\t`: 20 bytes to the point, 6 digits, the zone, a tab. */
const TIME_FIELD_BYTES = 30;
const TIME_FIELD_END = Buffer.from('+00\t', 'latin1');

/** `time` with its nanoseconds carried into its seconds when they are outside 0–999,999,999. */
function normalized(time: HrTime): HrTime {
  const [seconds, nanos] = time;
  if (nanos >= 0 && nanos < 1_000_000_000) return time;
  const carry = Math.floor(nanos / 1_000_000_000);
  return [seconds + carry, nanos - carry * 1_000_000_000];
}

/**
 * Makes the {@link RowTime} of points' times, remembering the last second (points of a batch
 * mostly share one) and the last time.
 */
class TimeFormatter {
  #second = Number.NaN;
  #prefixBytes: Uint8Array = new Uint8Array(0);

  /** The last time {@link field} made. */
  #fieldSecond = Number.NaN;
  #fieldMicros = Number.NaN;
  #field: RowTime | undefined;

  /**
   * The time in both forms; the same object as the last call's when the time is the same to
   * the microsecond, a new one otherwise (a {@link RowSink} may keep it). Undefined outside
   * years 1–9999.
   */
  field(time: HrTime): RowTime | undefined {
    const [seconds, nanos] = normalized(time);
    const micros = Math.floor(nanos / 1000);
    if (micros === this.#fieldMicros && seconds === this.#fieldSecond) return this.#field;
    if (!(micros >= 0 && micros < 1_000_000)) return undefined;
    if (seconds !== this.#second && !this.#setSecond(seconds)) return undefined;
    const text = new Uint8Array(TIME_FIELD_BYTES);
    text.set(this.#prefixBytes, 0);
    let rest = micros;
    for (let at = 25; at >= 20; at -= 1) {
      const next = Math.floor(rest / 10);
      text[at] = 0x30 + (rest - next * 10);
      rest = next;
    }
    text.set(TIME_FIELD_END, TIME_FIELD_BYTES - TIME_FIELD_END.length);
    const [high, low] = postgresMicros(seconds, micros);
    this.#field = new RowTime(text, high, low);
    this.#fieldSecond = seconds;
    this.#fieldMicros = micros;
    return this.#field;
  }

  #setSecond(seconds: number): boolean {
    const date = new Date(seconds * 1000);
    const year = date.getUTCFullYear();
    if (!Number.isFinite(year) || year < 1 || year > 9999) return false;
    this.#second = seconds;
    const iso = date.toISOString();
    this.#prefixBytes = Buffer.from(`${iso.slice(0, 10)} ${iso.slice(11, 19)}.`, 'latin1');
    this.#fieldSecond = Number.NaN;
    return true;
  }
}
