import type { Attributes } from '@opentelemetry/api';

/**
 * A cgroup's identity attributes and, built on first use and kept while the cgroup's
 * identity stays the same, the attribute object of each of its series (`cpu.mode=user`,
 * `disk.io.direction=read` then `system.device=vda`, …): a series keeps one attribute
 * object from scrape to scrape, which the metric producer finds it by.
 */
export class AttributeTree {
  readonly attributes: Attributes;
  #children: Map<string, Map<string, AttributeTree>> | undefined;

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
}
