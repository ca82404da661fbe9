import type { Attributes } from '@opentelemetry/api';
import type { ProducedMetric, Series } from '../../service/snapshot-producer.ts';

/**
 * A cgroup's identity attributes and, built on first use and kept while the cgroup's
 * identity stays the same, the attribute object of each of its series (`cpu.mode=user`,
 * `disk.io.direction=read` then `system.device=vda`, …): a series keeps one attribute
 * object from scrape to scrape; and each node holds its series of each metric, which the
 * receiver records through without any lookup by attributes.
 */
export class AttributeTree {
  readonly attributes: Attributes;
  #children: Map<string, Map<string, AttributeTree>> | undefined;
  readonly #series: (Series | undefined)[] = [];

  constructor(attributes: Attributes) {
    this.attributes = attributes;
  }

  /** These attributes with `key` set to `value`, the same node every time. */
  with(key: string, value: string): AttributeTree {
    this.#children ??= new Map();
    let byValue = this.#children.get(key);
    if (byValue === undefined) {
      byValue = new Map();
      this.#children.set(key, byValue);
    }
    let child = byValue.get(value);
    if (child === undefined) {
      child = new AttributeTree({ ...this.attributes, [key]: value });
      byValue.set(value, child);
    }
    return child;
  }

  /** The series of `metric` with these attributes, made on first use and kept with the node. */
  series(metric: ProducedMetric): Series {
    let series = this.#series[metric.index];
    if (series === undefined) {
      series = metric.series(this.attributes);
      this.#series[metric.index] = series;
    }
    return series;
  }
}
