import type { Attributes, Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { MetricProducer, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { z } from 'zod';
import type { Logger } from './logger.ts';

/**
 * The component contracts. Small and stable: every receiver, processor and exporter is
 * written against these types only.
 *
 * The sink that accepts batches is the SDK's own `PushMetricExporter`, so any exporter
 * written for the OpenTelemetry JS SDK is an inframeter exporter, and the reverse.
 */

/** What a component is in a pipeline. */
export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** How far a component's config and output can be relied on (as in the OpenTelemetry Collector). */
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/** Batches flow into a sink: a processor, an exporter or a fan-out. */
export type MetricSink = PushMetricExporter;

/**
 * The signals a pipeline carries: `metrics` (batches of `ResourceMetrics`) or `logs` (lists of
 * the logs SDK's `ReadableLogRecord`), as the OpenTelemetry Collector's `metrics` and `logs`
 * pipelines.
 */
export type Signal = 'metrics' | 'logs';

/** Log records flow into a sink: the logs SDK's own `LogRecordExporter`. */
export type LogSink = LogRecordExporter;

/** Counters of one component, as the collector's own telemetry records them. */
export interface ComponentTelemetry {
  /** Points handed to the component. */
  received(points: number): void;
  /** Points the component passed on successfully (for an exporter: delivered). */
  exported(points: number): void;
  /** Points whose export failed. */
  failed(points: number): void;
  /** Points deliberately dropped (a bound hit, a filter); never silent. */
  dropped(points: number, reason: string): void;
  /** One scrape's wall time in milliseconds and whether every source was read. */
  scraped(durationMs: number, failedSources: number): void;
}

/** Counters of the log records one component handled (the logs signal). */
export interface LogTelemetry {
  /** Log records handed to the component (for a receiver: that it pushed into its pipelines). */
  received(records: number): void;
  /** Log records passed on or delivered. */
  exported(records: number): void;
  /** Log records whose export failed. */
  failed(records: number): void;
}

/** What the service hands every component it creates. Nothing comes from globals. */
export interface ComponentSettings {
  /** The instance id as written in YAML: `type` or `type/name`. */
  readonly id: string;
  readonly kind: ComponentKind;
  /** A child logger carrying the component id. */
  readonly logger: Logger;
  /** Counters of the collector's own telemetry, bound to this component. */
  readonly telemetry: ComponentTelemetry;
  /** The meter for any further self-telemetry the component keeps. */
  readonly meter: Meter;
  /** The collector's resource (host.name, service.*), to merge into what a receiver emits. */
  readonly resource: Resource;
}

/**
 * A receiver is given the head of its pipeline when it starts and pushes batches into it.
 * `start` returns quickly (work happens on timers or sockets); `shutdown` stops it and is safe
 * to call twice or before `start`.
 */
export interface Receiver {
  /**
   * `next` is the head of the metrics pipelines the receiver is in (a sink that accepts and
   * drops everything when it is in none); `logs`, given to receivers whose factory supports
   * logs and that are in at least one logs pipeline, the head of those pipelines.
   */
  start(next: MetricSink, logs?: LogSink): Promise<void>;
  shutdown(): Promise<void>;
  /**
   * Scraping receivers: collect every `ms` from now on instead of the configured
   * `collection_interval` (an experiment's interval override); `undefined` restores it.
   */
  setCollectionInterval?(ms: number | undefined): void;
}

/** What one scrape reports: the errors of the sources that failed (the others were read). */
export interface ScrapeReport {
  /** Errors keyed by the source they came from (a path, a target): logged once per key. */
  readonly errors: ReadonlyMap<string, Error>;
}

/**
 * The scraping half of a scraper receiver. The scrape controller calls `register` once with
 * the receiver's own meter, then `scrape` every collection interval (never overlapping), then
 * collects the meter's instruments. Instrument callbacks only read the snapshot that the last
 * `scrape` left; all I/O happens in `scrape`.
 */
export interface Scraper {
  /** Attributes of the resource this scraper describes (merged over the collector's). */
  readonly resourceAttributes?: Attributes;
  /**
   * What the scraper publishes: a producer of its snapshot's points (`kit/snapshot-producer.ts`,
   * or `kit/snapshot-set.ts` for a catalogue observed by one callback), collected by the scrape
   * runner after each scrape. It only reads the snapshot, and reports only the series it
   * observed.
   */
  readonly metricProducer: MetricProducer;
  /**
   * Reads every source once into the snapshot. Resolves with the per-source errors; rejects
   * only when nothing at all could be read. Must stop early when `signal` aborts.
   */
  scrape(signal: AbortSignal): Promise<ScrapeReport>;
  /** Releases connections or handles; safe to call twice. */
  shutdown?(): Promise<void>;
}

/** An exporter: the sink at the end of a pipeline, optionally with a start step (listen, open). */
export interface Exporter extends PushMetricExporter {
  start?(): Promise<void>;
  /** The sink of log records, for exporters whose factory supports logs (`signals`). */
  readonly logs?: LogSink;
  /** Where the data goes, for the start-up message (`http://127.0.0.1:9464/metrics`, a file path). */
  describe?(): string;
}

/** A processor transforms a batch and passes it to the sink it wraps. */
export interface Processor extends PushMetricExporter {
  start?(): Promise<void>;
}

interface FactoryBase<K extends ComponentKind, C> {
  readonly kind: K;
  /** The YAML key and folder name, `lower_snake_case`. */
  readonly type: string;
  readonly stability: Stability;
  /** One line: what the component does. */
  readonly description: string;
  /**
   * Defaults and validation. Parsing `{}` (or the user's map) fills defaults; every problem is
   * reported with its path. Unknown keys are errors (strict objects).
   */
  readonly configSchema: z.ZodType<C>;
  /** The signals the component accepts or produces; absent means `['metrics']`. */
  readonly signals?: readonly Signal[];
}

/** The signals a factory supports (`['metrics']` when it does not say). */
export function signalsOf(factory: { readonly signals?: readonly Signal[] }): readonly Signal[] {
  return factory.signals ?? ['metrics'];
}

/** Builds receivers of one type. */
export interface ReceiverFactory<C = unknown> extends FactoryBase<'receiver', C> {
  /**
   * The receiver writes its own output (files in a data directory) and may be defined without
   * being in any pipeline; it is then started with a metrics sink that drops everything and no
   * log sink.
   */
  readonly standalone?: boolean;
  create(settings: ComponentSettings, config: C): Receiver;
}

/** Builds processors of one type; each pipeline gets its own instance. */
export interface ProcessorFactory<C = unknown> extends FactoryBase<'processor', C> {
  create(settings: ComponentSettings, config: C, next: MetricSink): Processor;
}

/** Builds exporters of one type; one instance per id, shared by the pipelines that name it. */
export interface ExporterFactory<C = unknown> extends FactoryBase<'exporter', C> {
  create(settings: ComponentSettings, config: C): Exporter;
}

/** Any factory. */
export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;

/**
 * Erases a factory's config type for the registry. The service only passes a factory the
 * value its own `configSchema` produced, so configs of different types never mix.
 */
export function registerFactory<C>(
  factory: ReceiverFactory<C> | ProcessorFactory<C> | ExporterFactory<C>,
): Factory {
  return factory;
}
