import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { exemplarsOf, withExemplars } from '../../kit/exemplars.ts';
import { SUMMARY_COUNT_SUFFIX, SUMMARY_SUM_SUFFIX, findSummaries } from '../../kit/summary.ts';
import type { ComponentSettings, MetricSink, Processor } from '../../kit/component.ts';
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

/**
 * A data point's labels as the rules see them: the resource's as `__resource_<key>`, then
 * `__name__`, then the point's attributes as text (an attribute overrides a label of the same
 * name, in that label's place), exactly as if they were copied into a Map in that order. They
 * are read where they are until a rule changes one: only then is the Map made.
 */
export class PointLabels implements Labels {
  #resource: ReadonlyMap<string, string>;
  #name: string;
  #attributes: Attributes;
  #map: Map<string, string> | undefined;
  /** Whether a rule changed a label (set a different value, or deleted one that existed). */
  #dirty = false;

  constructor(resource: ReadonlyMap<string, string>, name: string, attributes: Attributes) {
    this.#resource = resource;
    this.#name = name;
    this.#attributes = attributes;
  }

  /** The labels of another point (one view serves every point of a batch in turn). */
  reset(resource: ReadonlyMap<string, string>, name: string, attributes: Attributes): this {
    this.#resource = resource;
    this.#name = name;
    this.#attributes = attributes;
    this.#map = undefined;
    this.#dirty = false;
    return this;
  }

  #has(key: string): boolean {
    if (this.#map !== undefined) return this.#map.has(key);
    return Object.hasOwn(this.#attributes, key) || key === '__name__' || this.#resource.has(key);
  }

  get(key: string): string | undefined {
    if (this.#map !== undefined) return this.#map.get(key);
    if (Object.hasOwn(this.#attributes, key)) return asText(this.#attributes[key]);
    if (key === '__name__') return this.#name;
    return this.#resource.get(key);
  }

  #labels(): Map<string, string> {
    if (this.#map === undefined) {
      const map = new Map(this.#resource);
      map.set('__name__', this.#name);
      for (const [k, v] of Object.entries(this.#attributes)) map.set(k, asText(v));
      this.#map = map;
    }
    return this.#map;
  }

  set(key: string, value: string): void {
    if (this.#has(key) && this.get(key) === value) return;
    this.#labels().set(key, value);
    this.#dirty = true;
  }

  delete(key: string): void {
    if (!this.#has(key)) return;
    this.#labels().delete(key);
    this.#dirty = true;
  }

  keys(): Iterable<string> {
    return this.#labels().keys();
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return this.#labels()[Symbol.iterator]();
  }

  /**
   * The point's new name and attributes, or undefined when they are the ones it came with.
   * Labels starting with `__` are removed, as in Prometheus; values the rules did not touch
   * keep their type (numbers stay numbers).
   */
  result(): { name: string; attributes: Attributes } | undefined {
    const attributes = this.#attributes;
    if (!this.#dirty) {
      let same = true;
      for (const key of Object.keys(attributes)) {
        // `__` attributes go; an undefined value becomes the empty string it read as.
        if (key.startsWith('__') || attributes[key] === undefined) {
          same = false;
          break;
        }
      }
      if (same) return undefined;
    }
    const labels = this.#labels();
    const next: Attributes = {};
    for (const [k, v] of labels) {
      if (k.startsWith('__')) continue;
      const before = attributes[k];
      next[k] = before !== undefined && asText(before) === v ? before : v;
    }
    return { name: labels.get('__name__') ?? this.#name, attributes: next };
  }
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
 * `point` (a copy with the scaled value) with its exemplars' values scaled by `f` as well: a
 * histogram exemplar stays in the bucket the scaled bounds give it (v ≤ b gives v·f ≤ b·f for
 * f > 0), a counter's stays below the scaled count. An integer exemplar that is no longer
 * whole becomes a double.
 */
function scaleExemplars<P extends object>(point: P, f: number): P {
  const exemplars = exemplarsOf(point);
  if (exemplars.length === 0) return point;
  return withExemplars(
    point,
    exemplars.map((e) => {
      const value = e.value * f;
      return e.valueType === ValueType.INT && !Number.isSafeInteger(value)
        ? { ...e, value, valueType: ValueType.DOUBLE }
        : { ...e, value };
    }),
  );
}

/**
 * An exponential histogram scaled by `f`, when that is exact: `f` a power of two whose
 * exponent shifts the bucket indexes by a whole number (bucket i covers (b^i, b^(i+1)] with
 * b = 2^(2^-scale), and 2^k = b^(k·2^scale)). Undefined otherwise: no bucket layout holds it.
 */
function scaleExponentialHistogram(h: ExponentialHistogram, f: number): ExponentialHistogram | undefined {
  if (!(f > 0)) return undefined;
  const k = Math.log2(f);
  const shift = k * 2 ** h.scale;
  if (!Number.isInteger(k) || !Number.isInteger(shift)) return undefined;
  return {
    ...h,
    positive: { offset: h.positive.offset + shift, bucketCounts: h.positive.bucketCounts },
    negative: { offset: h.negative.offset + shift, bucketCounts: h.negative.bucketCounts },
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

  /** The plan of a summary's `.sum` or `.count`: the summary's rename, factor (sum only) and labels. */
  #summaryPartPlan(name: string, summaryName: string, suffix: string): MetricPlan {
    const own = this.#plan(name);
    const summary = this.#plan(summaryName);
    return {
      keep: own.keep && summary.keep,
      name: `${summary.name}${suffix}`,
      factor: suffix === SUMMARY_SUM_SUFFIX ? summary.factor : 1,
      labels: { ...own.labels, ...summary.labels },
    };
  }

  /** The batch relabelled, or undefined when nothing is left; counts what was dropped. */
  transform(batch: ResourceMetrics): ResourceMetrics | undefined {
    const c = this.#config;
    let dropped = 0;
    let unscalable = 0;
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
    const resourceLabels = new Map<string, string>();
    if (rules.length > 0) {
      for (const [k, v] of Object.entries(resource.attributes))
        resourceLabels.set(`${RESOURCE_PREFIX}${k}`, asText(v));
    }
    let changed = resource !== batch.resource;
    const view = new PointLabels(resourceLabels, '', {});
    const scopeMetrics = batch.scopeMetrics.map((scope) => {
      const metrics: MetricData[] = [];
      let scopeChanged = false;
      // A summary's `.sum` and `.count` follow the rules of the summary's name: renamed with
      // it, the sum scaled, the count (a number of observations) never.
      const summaryOf = new Map<MetricData, { name: string; suffix: string }>();
      if (c.metrics.length > 0) {
        for (const parts of findSummaries(scope.metrics).values()) {
          summaryOf.set(parts.sum, { name: parts.name, suffix: SUMMARY_SUM_SUFFIX });
          summaryOf.set(parts.count, { name: parts.name, suffix: SUMMARY_COUNT_SUFFIX });
        }
      }
      for (const metric of scope.metrics) {
        const summary = summaryOf.get(metric);
        const plan =
          summary === undefined
            ? this.#plan(metric.descriptor.name)
            : this.#summaryPartPlan(metric.descriptor.name, summary.name, summary.suffix);
        if (!plan.keep) {
          dropped += metric.dataPoints.length;
          scopeChanged = true;
          continue;
        }
        const hasLabels = Object.keys(plan.labels).length > 0;
        const renamed = plan.name !== metric.descriptor.name;
        if (rules.length === 0 && plan.factor === 1 && !renamed && !hasLabels) {
          metrics.push(metric);
          continue;
        }
        // Points may be renamed differently by the rules: group them by their new name.
        const byName = new Map<string, DataPoint<unknown>[]>();
        let metricChanged = renamed;
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          let attributes: Attributes = hasLabels ? { ...point.attributes, ...plan.labels } : point.attributes;
          let name = plan.name;
          if (rules.length > 0) {
            const labels = view.reset(resourceLabels, name, attributes);
            if (!applyRules(rules, labels)) {
              dropped += 1;
              metricChanged = true;
              continue;
            }
            const relabelled = labels.result();
            if (relabelled !== undefined) {
              name = relabelled.name;
              attributes = relabelled.attributes;
            }
          }
          const value =
            plan.factor === 1
              ? point.value
              : typeof point.value === 'number'
                ? point.value * plan.factor
                : metric.dataPointType === DataPointType.HISTOGRAM
                  ? scaleHistogram(point.value as Histogram, plan.factor)
                  : metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM
                    ? scaleExponentialHistogram(point.value as ExponentialHistogram, plan.factor)
                    : point.value;
          if (value === undefined) {
            // An exponential histogram no bucket layout can hold scaled: dropped, not falsified.
            unscalable += 1;
            metricChanged = true;
            continue;
          }
          let list = byName.get(name);
          if (list === undefined) {
            list = [];
            byName.set(name, list);
          }
          if (attributes === point.attributes && value === point.value) list.push(point);
          else {
            const next = { ...point, attributes, value };
            list.push(value === point.value ? next : scaleExemplars(next, plan.factor));
            metricChanged = true;
          }
          if (name !== metric.descriptor.name) metricChanged = true;
        }
        if (!metricChanged && metric.dataPoints.length > 0) {
          // Every point kept as it was: the metric goes on as it came.
          metrics.push(metric);
          continue;
        }
        scopeChanged = true;
        for (const [name, dataPoints] of byName) {
          metrics.push({ ...metric, descriptor: { ...metric.descriptor, name }, dataPoints } as MetricData);
        }
      }
      if (!scopeChanged) return scope;
      changed = true;
      return { scope: scope.scope, metrics };
    });
    if (dropped > 0) this.#settings.telemetry.dropped(dropped, 'relabel');
    if (unscalable > 0) this.#settings.telemetry.dropped(unscalable, 'unscalable_exponential_histogram');
    return changed ? { resource, scopeMetrics } : batch;
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
