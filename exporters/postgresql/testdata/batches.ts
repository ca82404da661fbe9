import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';

/** Batches of known points for the postgresql exporter's tests and benchmark. */

/** A time as [seconds, nanoseconds] from an ISO date and extra microseconds. */
export function at(iso: string, micros = 0): HrTime {
  const ms = Date.parse(iso);
  const seconds = Math.floor(ms / 1000);
  return [seconds, (ms - seconds * 1000) * 1_000_000 + micros * 1000];
}

export interface GaugePoint {
  readonly attributes: Attributes;
  readonly value: number;
  readonly time: HrTime;
}

/** A gauge (or a monotonic sum with `sum: true`) named `name` holding `points`. */
export function numberMetric(name: string, points: readonly GaugePoint[], sum = false): MetricData {
  const dataPoints: DataPoint<number>[] = points.map((p) => ({
    startTime: p.time,
    endTime: p.time,
    attributes: p.attributes,
    value: p.value,
  }));
  const descriptor = { name, description: '', unit: '', valueType: ValueType.DOUBLE };
  return sum
    ? {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints,
      }
    : {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints,
      };
}

/** A histogram metric with one point. */
export function histogramMetric(name: string, attributes: Attributes, time: HrTime, value: Histogram): MetricData {
  return {
    descriptor: { name, description: '', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [{ startTime: time, endTime: time, attributes, value }],
  };
}

/** One batch of `metrics` under a resource with `resource` attributes. */
export function batchOf(metrics: readonly MetricData[], resource: Attributes = {}): ResourceMetrics {
  return {
    resource: resourceFromAttributes(resource),
    scopeMetrics: [{ scope: { name: 'test' }, metrics: [...metrics] }],
  };
}
