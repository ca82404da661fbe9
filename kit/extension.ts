import type { Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { z } from 'zod';
import type { MetricSink, Receiver, Stability } from './component.ts';
import type { Logger } from './logger.ts';

/**
 * The extension contract. An extension is not in a pipeline: it serves the collector beside
 * them (a control API, an authenticator), as the OpenTelemetry Collector's extensions do. It
 * is defined under `extensions:` and enabled by `service.extensions`; the service creates it
 * from its factory, like any component, and knows nothing else about it.
 *
 * An extension may, through the optional hooks below, see the receivers and the metrics
 * pipelines ({@link Extension.bind}) and wrap each metrics pipeline's exporter sink
 * ({@link Extension.wrapExporterSink}): that is how it records what a pipeline exports or
 * changes a scraping receiver's collection interval.
 *
 * Life cycle, in the service's order: `create` (when the config is loaded into a service),
 * `bind`, `wrapExporterSink` once per metrics pipeline, then the pipelines start (exporters,
 * processors, receivers), then `start`. On the way down: `stopServing` before the receivers
 * stop, `shutdown` once they have stopped (before processors and exporters flush).
 */

/** What the service hands an extension it creates. */
export interface ExtensionSettings {
  /** The extension id as written in YAML: `type` or `type/name`. */
  readonly id: string;
  /** A child logger carrying the extension id. */
  readonly logger: Logger;
  /** The meter of the collector's own telemetry. */
  readonly meter: Meter;
  /** The collector's resource (host.name, service.*). */
  readonly resource: Resource;
}

/** A metrics pipeline as an extension sees it: its id and its receivers' ids, in config order. */
export interface PipelineView {
  readonly id: string;
  readonly receivers: readonly string[];
}

/** What an extension may see of the collector, before anything starts. */
export interface ExtensionHost {
  /** Every receiver, by id, created but not started (see `Receiver.setCollectionInterval`). */
  readonly receivers: ReadonlyMap<string, Receiver>;
  /** The metrics pipelines, in config order. */
  readonly pipelines: readonly PipelineView[];
}

/** A created extension. */
export interface Extension {
  /** Sees the receivers and pipelines, once, before any pipeline is built. */
  bind?(host: ExtensionHost): void;
  /**
   * Returns the sink a metrics pipeline's processors push into instead of `sink` (the fan-out
   * to its exporters): the extension sees every batch the pipeline exports and must pass it on
   * to `sink` unchanged. Called once per metrics pipeline; return `sink` to leave it alone.
   */
  wrapExporterSink?(pipelineId: string, sink: MetricSink): MetricSink;
  /** Starts serving, once every pipeline runs. */
  start(): Promise<void>;
  /** First step of stopping, before the receivers stop: stop taking outside requests. */
  stopServing?(): Promise<void>;
  /** Last step, once the receivers have stopped: finish files, release resources. Safe twice. */
  shutdown(): Promise<void>;
  /** Where it serves, for the start-up message (`http://127.0.0.1:9470/experiments`). */
  describe?(): string | undefined;
}

/** Builds extensions of one type. */
export interface ExtensionFactory<C = unknown> {
  readonly kind: 'extension';
  /** The YAML key and folder name, `lower_snake_case`. */
  readonly type: string;
  readonly stability: Stability;
  /** One line: what the extension does. */
  readonly description: string;
  /** Defaults and validation, as for components: strict objects, every problem with its path. */
  readonly configSchema: z.ZodType<C>;
  create(settings: ExtensionSettings, config: C): Extension;
}

/** Erases an extension factory's config type for the registry (see `registerFactory`). */
export function registerExtension<C>(factory: ExtensionFactory<C>): ExtensionFactory {
  return factory;
}
