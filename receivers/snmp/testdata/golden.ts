import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Attributes } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';

/** A metric as kept in a golden file: timestamps aside, points sorted by attributes. */
export interface GoldenMetric {
  name: string;
  unit: string;
  type: 'sum' | 'monotonic sum' | 'gauge';
  points: { attributes: Attributes; value: number }[];
}

/** The metrics of a batch in golden form, sorted by name. */
export function toGolden(batch: ResourceMetrics): GoldenMetric[] {
  const out: GoldenMetric[] = [];
  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.dataPointType !== DataPointType.SUM && metric.dataPointType !== DataPointType.GAUGE) continue;
      out.push({
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        type:
          metric.dataPointType === DataPointType.GAUGE ? 'gauge' : metric.isMonotonic ? 'monotonic sum' : 'sum',
        points: metric.dataPoints
          .map((p) => ({ attributes: p.attributes, value: p.value }))
          .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))),
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The value of the point of `name` whose attributes include `attributes`. */
export function valueOf(metrics: GoldenMetric[], name: string, attributes: Attributes): number | undefined {
  const points = metrics.find((m) => m.name === name)?.points ?? [];
  return points.find((p) => Object.entries(attributes).every(([key, value]) => p.attributes[key] === value))?.value;
}

/**
 * The golden file's content. With UPDATE_GOLDEN=1 `actual` is written first, so the comparison
 * passes and the diff is reviewed like code; a missing golden file is an error otherwise.
 */
export function readGolden(path: string, actual: unknown): unknown {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
  else if (!existsSync(path)) throw new Error(`${path} does not exist: run with UPDATE_GOLDEN=1 to write it`);
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}
