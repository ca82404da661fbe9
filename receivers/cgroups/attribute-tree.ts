import type { Attributes } from '@opentelemetry/api';
import type { ProducedMetric, Series } from '../../kit/snapshot-producer.ts';

/**
 * A cgroup's identity attributes and, built on first use and kept while the cgroup's
 * identity stays the same, the attribute object of each of its series (`cpu.mode=user`,
 * `disk.io.direction=read` then `system.device=vda`, …): a series keeps one attribute
 * object from scrape to scrape; and each node holds its series of each metric, which the
 * receiver records through without any lookup by attributes.
 *
 * A thousand cgroups make some fifty thousand nodes, kept for as long as their cgroups: a
 * node is small (its children and series in short arrays searched in order, most nodes have
 * one series and no children), so that the collector's live heap stays small.
 */
export class AttributeTree {
  readonly attributes: Attributes;
  /** The attribute this node adds to its parent's (empty for a root). */
  readonly key: string;
  readonly value: string;
  #children: AttributeTree[] | undefined;
  #series: Series | Series[] | undefined;

  /**
   * `attributes` are kept frozen (a copy when they are not): a series' set never changes once
   * made, and a frozen set is one whose text an exporter may keep across batches (the csv
   * exporter's cells).
   */
  constructor(attributes: Attributes, key = '', value = '') {
    this.attributes = Object.isFrozen(attributes) ? attributes : Object.freeze({ ...attributes });
    this.key = key;
    this.value = value;
  }

  /** These attributes with `key` set to `value`, the same node every time. */
  with(key: string, value: string): AttributeTree {
    const children = this.#children;
    if (children !== undefined) {
      for (const child of children) if (child.key === key && child.value === value) return child;
    }
    const child = new AttributeTree({ ...this.attributes, [key]: value }, key, value);
    if (children === undefined) this.#children = [child];
    else children.push(child);
    return child;
  }

  /** The series of `metric` with these attributes, made on first use and kept with the node. */
  series(metric: ProducedMetric): Series {
    const held = this.#series;
    const index = metric.index;
    if (held === undefined) {
      const series = metric.series(this.attributes);
      this.#series = series;
      return series;
    }
    if (!Array.isArray(held)) {
      if (held.metric === index) return held;
      const series = metric.series(this.attributes);
      this.#series = [held, series];
      return series;
    }
    for (const series of held) if (series.metric === index) return series;
    const series = metric.series(this.attributes);
    held.push(series);
    return series;
  }
}
