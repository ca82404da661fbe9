import type { Attributes } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Processor } from '../../kit/component.ts';
import type { ResourceProcessorConfig } from './config.ts';
import type { DetectionSources } from './detect.ts';
import { detect, SYSTEM_SOURCES } from './detect.ts';

/**
 * The `resource` processor: host, OS and Kubernetes identity detected once at start, set on
 * every batch's resource (only where missing unless `override`); explicit `attributes` always
 * win; `delete` removes keys. `service.instance.id` comes from the collector's own resource.
 */
export class ResourceProcessor implements Processor {
  readonly #config: ResourceProcessorConfig;
  readonly #next: MetricSink;
  readonly #detected: Attributes;
  /** Rewritten resources by input resource: receivers reuse theirs, so this stays small. */
  #cache = new WeakMap<Resource, Resource>();

  constructor(
    settings: ComponentSettings,
    config: ResourceProcessorConfig,
    next: MetricSink,
    sources: DetectionSources = SYSTEM_SOURCES,
  ) {
    this.#config = config;
    this.#next = next;
    const own = settings.resource.attributes['service.instance.id'];
    this.#detected = {
      ...(own === undefined ? {} : { 'service.instance.id': own }),
      ...detect(config, sources),
    };
  }

  get detected(): Attributes {
    return this.#detected;
  }

  rewrite(resource: Resource): Resource {
    const cached = this.#cache.get(resource);
    if (cached !== undefined) return cached;
    const attributes: Attributes = this.#config.override
      ? { ...resource.attributes, ...this.#detected }
      : { ...this.#detected, ...resource.attributes };
    Object.assign(attributes, this.#config.attributes);
    for (const key of this.#config.delete) Reflect.deleteProperty(attributes, key);
    const out = resourceFromAttributes(attributes);
    this.#cache.set(resource, out);
    return out;
  }

  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.#next.export(
      { resource: this.rewrite(batch.resource), scopeMetrics: batch.scopeMetrics },
      resultCallback,
    );
  }

  forceFlush(): Promise<void> {
    return this.#next.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#cache = new WeakMap();
    return Promise.resolve();
  }
}
