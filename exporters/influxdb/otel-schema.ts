import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { int64Of } from '../../kit/int64.ts';
import type { Precision } from './config.ts';
import type { LineBatch } from './line-protocol.ts';
import {
  escapeKey,
  escapeMeasurement,
  formatFloat,
  formatInteger,
  formatTimestamp,
} from './line-protocol.ts';

/**
 * The `otel` schema: one measurement per metric, named as the metric (`system.cpu.time`),
 * the point's attributes as tags (and the resource's, when asked), one line per data point
 * at the point's end time:
 *
 * - gauge and sum: field `value`, an integer (`i`) when the instrument is an integer one,
 *   a float otherwise;
 * - histogram: fields `count` (integer), `sum`, `min`, `max` (floats, when recorded) and one
 *   integer field per bucket named by its upper bound, holding the cumulative count of
 *   values up to that bound (`0.5=3i`, …, `+Inf=10i`): Prometheus' `le` buckets as fields;
 * - exponential histogram: `count`, `sum`, `min`, `max` (its buckets are not written).
 *
 * The SDK's data model has no summaries, so none reach an exporter.
 */

export interface OtelSchemaOptions {
  readonly precision: Precision;
  readonly resourceAttributesAsTags: boolean;
}

function attributeText(value: Attributes[string]): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/** `,k=v` for every attribute with a non-empty key and value, escaped. */
function tagSet(attributes: Attributes, skip?: Attributes): string {
  let tags = '';
  for (const key in attributes) {
    if (skip !== undefined && key in skip) continue;
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const text = attributeText(value);
    if (key === '' || text === '') continue;
    tags += `,${escapeKey(key)}=${escapeKey(text)}`;
  }
  return tags;
}

/** Writes a batch in the `otel` schema into `out`. */
export function writeOtelSchema(batch: ResourceMetrics, options: OtelSchemaOptions, out: LineBatch): void {
  const resourceAttributes = batch.resource.attributes;
  // Tags are escaped at every point: a cache by attributes object (a WeakMap) cost more than
  // the escaping it saved (bench/influxdb.bench.ts), as most batches bring new objects.
  const resourceTags = options.resourceAttributesAsTags ? tagSet(resourceAttributes) : '';
  // The points of a scrape share their end time: formatted once.
  let lastTime: HrTime | undefined;
  let lastTimestamp = '';
  const timestampOf = (time: HrTime): string => {
    if (lastTime === undefined || time[0] !== lastTime[0] || time[1] !== lastTime[1]) {
      lastTime = time;
      lastTimestamp = formatTimestamp(time, options.precision);
    }
    return lastTimestamp;
  };
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      const measurement = escapeMeasurement(metric.descriptor.name);
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        const pointTags = tagSet(point.attributes);
        // A point's own attribute wins over the resource's of the same name.
        const tags =
          resourceTags === ''
            ? pointTags
            : pointTags === ''
              ? resourceTags
              : pointTags + tagSet(resourceAttributes, point.attributes);
        const fields = fieldsOf(metric, point);
        if (fields === undefined) {
          out.skip('not_a_number');
          continue;
        }
        out.add(measurement + tags, fields, timestampOf(point.endTime), 1);
      }
    }
  }
}

/** The field set of one point, or undefined when it has no value line protocol can carry. */
function fieldsOf(metric: MetricData, point: DataPoint<unknown>): string | undefined {
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
    case DataPointType.SUM: {
      const value = point.value as number;
      const text =
        metric.descriptor.valueType === ValueType.INT
          ? formatInteger(value, int64Of(point))
          : formatFloat(value);
      return text === undefined ? undefined : `value=${text}`;
    }
    case DataPointType.HISTOGRAM:
      return histogramFields(point.value as Histogram);
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return summaryFields(point.value as ExponentialHistogram);
  }
}

function summaryFields(value: {
  count: number;
  sum?: number;
  min?: number;
  max?: number;
}): string | undefined {
  const count = formatInteger(value.count);
  if (count === undefined) return undefined;
  let fields = `count=${count}`;
  for (const key of ['sum', 'min', 'max'] as const) {
    const v = value[key];
    const text = v === undefined ? undefined : formatFloat(v);
    if (text !== undefined) fields += `,${key}=${text}`;
  }
  return fields;
}

function histogramFields(value: Histogram): string | undefined {
  let fields = summaryFields(value);
  if (fields === undefined) return undefined;
  const { boundaries, counts } = value.buckets;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i += 1) {
    cumulative += counts[i] ?? 0;
    const bound = i < boundaries.length ? formatFloat(boundaries[i] ?? Number.NaN) : '+Inf';
    if (bound !== undefined) fields += `,${escapeKey(bound)}=${String(cumulative)}i`;
  }
  return fields;
}
