import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Processor } from '../../service/component.ts';
import type { RelabelConfig } from './config.ts';
import type { Labels } from './rules.ts';
import { applyRules } from './rules.ts';

const RESOURCE_PREFIX = '__resource_';

function asText(value: Attributes[string]): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** What a metric becomes under the per-metric rules: its name, a factor, static labels. */
interface MetricPlan {
  keep: boolean;
  name: string;
  factor: number;
  labels: Record<string, string>;
}

function scaleHistogram(h: Histogram, f: number): Histogram {
  return {
    ...h,
    buckets: { boundaries: h.buckets.boundaries.map((b) => b * f), counts: h.buckets.counts },
    ...(h.sum === undefined ? {} : { sum: h.sum * f }),
    ...(h.min === undefined ? {} : { min: h.min * f }),
    ...(h.max === undefined ? {} : { max: h.max * f }),
  };
}

/**
 * The `relabel` processor: Prometheus relabelling on data point labels (`__name__` and the
 * point's attributes, with the resource's readable as `__resource_<key>`) and on resource
 * attributes; per-metric rename, scale and static labels; metrics kept or dropped by name.
 * Points dropped on purpose are counted as dropped (`reason: relabel`).
 */
export class RelabelProcessor implements Processor {
  readonly #settings: ComponentSettings;
  readonly #config: RelabelConfig;
  readonly #next: MetricSink;
  /** Per-metric plans by name: names repeat in every batch, the regexes run once each. */
  readonly #plans = new Map<string, MetricPlan>();

  constructor(settings: ComponentSettings, config: RelabelConfig, next: MetricSink) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
  }

  #plan(name: string): MetricPlan {
    let plan = this.#plans.get(name);
    if (plan !== undefined) return plan;
    const c = this.#config;
    const included = c.include_metrics.length === 0 || c.include_metrics.some((r) => r.test(name));
    const excluded = c.exclude_metrics.some((r) => r.test(name));
    plan = { keep: included && !excluded, name, factor: 1, labels: {} };
    for (const rule of c.metrics) {
      const match = rule.match.exec(plan.name);
      if (match === null) continue;
      if (rule.rename !== undefined) {
        plan.name = rule.rename.replace(/\$(\d+)/g, (_, n: string) => match[Number(n)] ?? '');
      }
      if (rule.scale_factor !== undefined) plan.factor *= rule.scale_factor;
      Object.assign(plan.labels, rule.labels);
    }
    if (this.#plans.size < 100_000) this.#plans.set(name, plan);
    return plan;
  }

  /** The batch relabelled, or undefined when nothing is left; counts what was dropped. */
  transform(batch: ResourceMetrics): ResourceMetrics | undefined {
    const c = this.#config;
    let dropped = 0;
    let resource = batch.resource;
    if (c.resource_relabel_configs.length > 0) {
      const labels: Labels = new Map(Object.entries(resource.attributes).map(([k, v]) => [k, asText(v)]));
      if (!applyRules(c.resource_relabel_configs, labels)) {
        let points = 0;
        for (const s of batch.scopeMetrics) for (const m of s.metrics) points += m.dataPoints.length;
        this.#settings.telemetry.dropped(points, 'relabel');
        return undefined;
      }
      const attributes: Attributes = {};
      for (const [k, v] of labels) if (!k.startsWith('__')) attributes[k] = v;
      resource = resourceFromAttributes(attributes);
    }
    const rules = c.metric_relabel_configs;
    const resourceLabels =
      rules.length === 0
        ? []
        : Object.entries(resource.attributes).map(([k, v]) => [`${RESOURCE_PREFIX}${k}`, asText(v)] as const);
    const scopeMetrics = batch.scopeMetrics.map((scope) => {
      const metrics: MetricData[] = [];
      for (const metric of scope.metrics) {
        const plan = this.#plan(metric.descriptor.name);
        if (!plan.keep) {
          dropped += metric.dataPoints.length;
          continue;
        }
        const unchanged =
          rules.length === 0 &&
          plan.factor === 1 &&
          plan.name === metric.descriptor.name &&
          Object.keys(plan.labels).length === 0;
        if (unchanged) {
          metrics.push(metric);
          continue;
        }
        // Points may be renamed differently by the rules: group them by their new name.
        const byName = new Map<string, DataPoint<unknown>[]>();
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          let attributes: Attributes =
            Object.keys(plan.labels).length === 0
              ? point.attributes
              : { ...point.attributes, ...plan.labels };
          let name = plan.name;
          if (rules.length > 0) {
            const labels: Labels = new Map(resourceLabels);
            labels.set('__name__', name);
            for (const [k, v] of Object.entries(attributes)) labels.set(k, asText(v));
            if (!applyRules(rules, labels)) {
              dropped += 1;
              continue;
            }
            name = labels.get('__name__') ?? name;
            const next: Attributes = {};
            for (const [k, v] of labels) {
              if (k.startsWith('__')) continue;
              // Values the rules did not touch keep their type (numbers stay numbers).
              const before = attributes[k];
              next[k] = before !== undefined && asText(before) === v ? before : v;
            }
            attributes = next;
          }
          const value =
            plan.factor === 1
              ? point.value
              : typeof point.value === 'number'
                ? point.value * plan.factor
                : metric.dataPointType === DataPointType.HISTOGRAM
                  ? scaleHistogram(point.value as Histogram, plan.factor)
                  : point.value;
          const list = byName.get(name) ?? [];
          list.push({ ...point, attributes, value });
          byName.set(name, list);
        }
        for (const [name, dataPoints] of byName) {
          metrics.push({ ...metric, descriptor: { ...metric.descriptor, name }, dataPoints } as MetricData);
        }
      }
      return { scope: scope.scope, metrics };
    });
    if (dropped > 0) this.#settings.telemetry.dropped(dropped, 'relabel');
    return { resource, scopeMetrics };
  }

  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let out: ResourceMetrics | undefined;
    try {
      out = this.transform(batch);
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    if (out === undefined) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.#next.export(out, resultCallback);
  }

  forceFlush(): Promise<void> {
    return this.#next.forceFlush();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
