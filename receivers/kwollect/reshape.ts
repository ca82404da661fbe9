import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { findSummaries } from '../../kit/summary.ts';
import { CUSTOM_FAMILY, parseCustomLabels } from './custom.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { scalePoint } from './scale.ts';
import type { Translated } from './translate.ts';
import { bmcName } from './translate.ts';

/** The prometheus receiver's own series, never an exporter's metric. */
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** What a transform asks of the receiver. */
export interface ReshapeContext {
  /** Whether an `optional` metric is on for its device, under one of these names. */
  wanted(metric: KwollectMetric, names: readonly string[]): boolean;
  /** A point left out, and why (logged once per reason, counted). */
  dropped(reason: string, error: Error): void;
}

interface Output {
  readonly template: MetricData;
  readonly name: string;
  readonly points: DataPoint<unknown>[];
}

/**
 * The transform of one inner receiver's batches into kwollect metrics: every point becomes
 * the metric of the metrics.d entry it belongs to, named as the file says (SNMP, IPMI: the
 * entry's `name`; Prometheus: the sample's name as the exporter writes it, `_total` of a
 * counter included; `kwollect_custom`: its `_metric_id`), with `device.id` and the entry's
 * labels, its value multiplied by `scale_factor`, and no unit (kwollect metrics have none,
 * and a unit would make exporters add a suffix to the name). Values are doubles, as kwollect
 * stores them (a scale factor makes an integer count fractional). Points of no entry, and
 * optional ones that are off, are left out.
 */
export function createTransform(
  t: Translated,
  context: ReshapeContext,
): (batch: ResourceMetrics) => ResourceMetrics | undefined {
  const candidates = indexCandidates(t);
  return (batch) => {
    const out = new Map<string, Output>();
    const emit = (metric: MetricData, name: string, point: DataPoint<unknown>): void => {
      const key = `${name}\u0000${String(metric.dataPointType)}`;
      let entry = out.get(key);
      if (entry === undefined) {
        entry = { template: metric, name, points: [] };
        out.set(key, entry);
      }
      entry.points.push(point);
    };
    const summaries = summaryIndex(batch);
    for (const scope of batch.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          for (const m of candidates(metric, point)) {
            const name = kwollectName(t, m, metric, point, summaries);
            if (name === undefined) continue;
            let attributes: Attributes =
              m.url.scheme === 'prometheus' ? withoutKey(point.attributes, 'device.id') : {};
            let shaped: DataPoint<unknown> = point;
            let outName = name;
            if (m.url.scheme === 'prometheus' && metric.descriptor.name === CUSTOM_FAMILY) {
              try {
                const custom = parseCustomLabels(attributes);
                if (custom !== undefined) {
                  outName = custom.name;
                  attributes = custom.attributes;
                  if (custom.time !== undefined)
                    shaped = { ...point, startTime: custom.time, endTime: custom.time };
                }
              } catch (error) {
                context.dropped('kwollect_custom', error as Error);
                continue;
              }
            }
            if (!context.wanted(m, [m.name, outName])) continue;
            const countOnly = summaries.get(metric.descriptor.name)?.count === true;
            const scaled = scalePoint(metric.dataPointType, shaped, m.scaleFactor, countOnly);
            if (scaled === undefined) {
              context.dropped(
                'exponential histogram',
                new Error(
                  `${outName}: an exponential histogram cannot take scale_factor ${String(m.scaleFactor)}`,
                ),
              );
              continue;
            }
            emit(metric, outName, {
              ...scaled,
              attributes: { ...attributes, ...m.labels, 'device.id': m.deviceId },
            });
          }
        }
      }
    }
    if (out.size === 0) return undefined;
    const metrics = [...out.values()].map(
      ({ template, name, points }) =>
        ({
          ...template,
          descriptor: { ...template.descriptor, name, unit: '', valueType: ValueType.DOUBLE },
          dataPoints: points,
        }) as MetricData,
    );
    const scope = batch.scopeMetrics[0]?.scope ?? { name: 'inframeter/receiver/kwollect' };
    return { resource: batch.resource, scopeMetrics: [{ scope, metrics }] };
  };
}

/**
 * The entries a point may belong to, found by its metric's name (SNMP: one entry per
 * internal name) or its BMC (IPMI), so that a tree of thousands of entries costs a lookup
 * per point; a Prometheus receiver serves the few entries of one exporter and interval.
 */
function indexCandidates(
  t: Translated,
): (metric: MetricData, point: DataPoint<unknown>) => readonly KwollectMetric[] {
  const none: readonly KwollectMetric[] = [];
  switch (t.type) {
    case 'snmp': {
      const byName = new Map<string, KwollectMetric[]>();
      for (const [m, name] of t.internalNames ?? []) byName.set(name, [...(byName.get(name) ?? []), m]);
      return (metric) => byName.get(metric.descriptor.name) ?? none;
    }
    case 'ipmi': {
      const byBmc = new Map<string, KwollectMetric[]>();
      for (const m of t.metrics)
        if (m.url.scheme === 'ipmisensor')
          byBmc.set(bmcName(m.url), [...(byBmc.get(bmcName(m.url)) ?? []), m]);
      return (_metric, point) => {
        const device = point.attributes['device.id'];
        return (typeof device === 'string' ? byBmc.get(device) : undefined) ?? none;
      };
    }
    case 'prometheus':
      return () => t.metrics;
  }
}

/** The name a point takes as the kwollect metric `m`; undefined when it is not `m`'s. */
function kwollectName(
  t: Translated,
  m: KwollectMetric,
  metric: MetricData,
  point: DataPoint<unknown>,
  summaries: SummaryIndex,
): string | undefined {
  // A summary's parts travel as `m`, `m.sum` and `m.count`; kwollect names them as the
  // exporter's samples: `m`, `m_sum`, `m_count`.
  const name = summaries.get(metric.descriptor.name)?.sample ?? metric.descriptor.name;
  const attributes = point.attributes;
  switch (m.url.scheme) {
    case 'snmp':
      return t.internalNames?.get(m) === name && attributes['device.id'] === m.deviceId ? m.name : undefined;
    case 'ipmisensor': {
      if (attributes['device.id'] !== bmcName(m.url)) return undefined;
      const hwId = attributes['hw.id'];
      const id = (typeof hwId === 'string' ? hwId : '').split(':').pop();
      const isReading = name.startsWith('hw.')
        ? name !== 'hw.status'
        : name.startsWith('inframeter.ipmi.') && name !== 'inframeter.ipmi.up';
      return isReading && (id === m.url.sensor || attributes['hw.name'] === m.url.sensor)
        ? m.name
        : undefined;
    }
    case 'prometheus': {
      if (SCRAPE_SERIES.has(name)) return undefined;
      // kwollect keeps the sample's name: a counter's ends in `_total`, as the prometheus
      // receiver names it.
      const exposed = isCounter(metric, summaries) && !name.endsWith('_total') ? `${name}_total` : name;
      if (m.url.names.length === 0) return exposed;
      const family = summaries.get(metric.descriptor.name)?.family;
      // A listed name is kept as written; a summary listed by its family brings its `_sum` and `_count`.
      const listed = m.url.names.find((n) => n === exposed || n === name || n === family);
      if (listed === undefined) return undefined;
      return listed === family ? exposed : listed;
    }
  }
}

/** Each part of a summary, by its metric name: the summary's name and its Prometheus sample name. */
type SummaryIndex = ReadonlyMap<
  string,
  { readonly family: string; readonly sample: string; readonly count: boolean }
>;

/** The summaries of a batch, in the shape kit/summary.ts describes. */
function summaryIndex(batch: ResourceMetrics): SummaryIndex {
  const index = new Map<string, { family: string; sample: string; count: boolean }>();
  for (const scope of batch.scopeMetrics) {
    for (const { name, sum, count } of findSummaries(scope.metrics).values()) {
      index.set(name, { family: name, sample: name, count: false });
      index.set(sum.descriptor.name, { family: name, sample: `${name}_sum`, count: false });
      index.set(count.descriptor.name, { family: name, sample: `${name}_count`, count: true });
    }
  }
  return index;
}

function isCounter(metric: MetricData, summaries: SummaryIndex): boolean {
  return (
    metric.dataPointType === DataPointType.SUM && metric.isMonotonic && !summaries.has(metric.descriptor.name)
  );
}

function withoutKey(attributes: Attributes, key: string): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (k !== key) out[k] = v;
  return out;
}
