import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  Attributes,
  BatchObservableCallback,
  Meter,
  MetricOptions,
  Observable,
  ObservableCallback,
  ObservableResult,
} from '@opentelemetry/api';
import type { DataPoint, MetricData, MetricProducer, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Receiver, ScrapeReport, Scraper } from './component.ts';
import { ErrorLog } from './error-log.ts';
import { TimeoutError, toError } from './errors.ts';
import { countPoints } from './metrics-data.ts';
import { readPackageVersion } from './version.ts';

/** Timing of a scraper receiver, in milliseconds (from `scraperOptions`). */
export interface ScrapeSchedule {
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
}

/**
 * The cardinality limit per instrument. The SDK's default (2,000) would silently fold the
 * series of a large host (many CPUs × modes, many processes) into an overflow series.
 */
const CARDINALITY_LIMIT = 100_000;

/**
 * A reader that collects only when the controller asks. Cumulative temporality. The scraper's
 * own producer, if any, is collected with the instruments.
 */
class ScrapeReader extends MetricReader {
  constructor(producer: MetricProducer | undefined) {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      cardinalitySelector: () => CARDINALITY_LIMIT,
      metricProducers: producer === undefined ? [] : [producer],
    });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A canonical text of an attribute set. */
function attributesKey(attributes: Attributes): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Records what a scraper's observable instruments observe in each collection. The SDK keeps
 * reporting, with cumulative temporality, every series an asynchronous instrument ever
 * observed; a process that exited or a VM that was undefined would stay forever. The
 * runner drops from each batch the series its scraper did not observe this time.
 */
class ObservationTracker {
  readonly #names = new WeakMap<object, string>();
  readonly observableNames = new Set<string>();
  /** Attribute sets observed in the current collection, by metric name. */
  observed = new Map<string, Attributes[]>();

  #record(instrument: object, attributes: Attributes | undefined): void {
    const name = this.#names.get(instrument);
    if (name === undefined) return;
    const list = this.observed.get(name);
    if (list === undefined) this.observed.set(name, [attributes ?? {}]);
    else list.push(attributes ?? {});
  }

  #wrapResult(result: ObservableResult, instrument: object): ObservableResult {
    return {
      observe: (value, attributes) => {
        this.#record(instrument, attributes);
        result.observe(value, attributes);
      },
    };
  }

  #wrapInstrument<T extends Observable>(instrument: T, name: string): T {
    this.#names.set(instrument, name);
    this.observableNames.add(name);
    const callbacks = new Map<ObservableCallback, ObservableCallback>();
    return new Proxy(instrument, {
      get: (target, prop, receiver) => {
        if (prop === 'addCallback') {
          return (callback: ObservableCallback) => {
            const wrapped: ObservableCallback = (result) => callback(this.#wrapResult(result, target));
            callbacks.set(callback, wrapped);
            target.addCallback(wrapped);
          };
        }
        if (prop === 'removeCallback') {
          return (callback: ObservableCallback) => {
            target.removeCallback(callbacks.get(callback) ?? callback);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  }

  /** The meter the scraper registers its instruments with. */
  wrap(meter: Meter): Meter {
    const unwrap = new WeakMap<object, Observable>();
    const observable =
      <T extends Observable>(create: (name: string, options?: MetricOptions) => T) =>
      (name: string, options?: MetricOptions): T => {
        const instrument = create(name, options);
        const wrapped = this.#wrapInstrument(instrument, name);
        unwrap.set(wrapped, instrument);
        return wrapped;
      };
    return new Proxy(meter, {
      get: (target, prop, receiver) => {
        switch (prop) {
          case 'createObservableGauge':
            return observable((n, o) => target.createObservableGauge(n, o));
          case 'createObservableCounter':
            return observable((n, o) => target.createObservableCounter(n, o));
          case 'createObservableUpDownCounter':
            return observable((n, o) => target.createObservableUpDownCounter(n, o));
          case 'addBatchObservableCallback':
          case 'removeBatchObservableCallback':
            return (callback: BatchObservableCallback, observables: Observable[]) => {
              const inner = observables.map((o) => unwrap.get(o) ?? o);
              if (prop === 'removeBatchObservableCallback') {
                target.removeBatchObservableCallback(callback, inner);
                return;
              }
              target.addBatchObservableCallback(
                (result) =>
                  callback({
                    observe: (o: Observable, value: number, attributes?: Attributes) => {
                      const real = unwrap.get(o) ?? o;
                      this.#record(real, attributes);
                      result.observe(real, value, attributes);
                    },
                  }),
                inner,
              );
            };
          default:
            return Reflect.get(target, prop, receiver) as unknown;
        }
      },
    });
  }

  /** The batch without the series of observable instruments not observed this time. */
  prune(batch: ResourceMetrics): ResourceMetrics {
    const observed = this.observed;
    return {
      resource: batch.resource,
      scopeMetrics: batch.scopeMetrics.map((scope) => ({
        scope: scope.scope,
        metrics: scope.metrics.flatMap((metric) => {
          const name = metric.descriptor.name;
          if (!this.observableNames.has(name)) return [metric];
          const seen = observed.get(name) ?? [];
          // Nothing stale when there are no more points than observations.
          if (metric.dataPoints.length <= seen.length) return [metric];
          const keys = new Set(seen.map(attributesKey));
          const dataPoints = (metric.dataPoints as DataPoint<unknown>[]).filter((p) =>
            keys.has(attributesKey(p.attributes)),
          );
          return dataPoints.length === 0 ? [] : [{ ...metric, dataPoints } as MetricData];
        }),
      })),
    };
  }
}

/** Reads a scraper once (all its I/O), then collects its instruments into one batch. */
export class ScrapeRunner {
  readonly #scraper: Scraper;
  readonly #reader: ScrapeReader;
  readonly #provider: MeterProvider;
  readonly #tracker = new ObservationTracker();

  constructor(
    scraper: Scraper,
    settings: Pick<ComponentSettings, 'id' | 'resource'> & Partial<Pick<ComponentSettings, 'logger'>>,
  ) {
    this.#scraper = scraper;
    this.#reader = new ScrapeReader(scraper.metricProducer);
    const resource = settings.resource.merge(resourceFromAttributes(scraper.resourceAttributes ?? {}));
    this.#provider = new MeterProvider({ resource, readers: [this.#reader] });
    const type = settings.id.split('/')[0] ?? settings.id;
    scraper.register(
      this.#tracker.wrap(this.#provider.getMeter(`inframeter/receiver/${type}`, readPackageVersion())),
    );
  }

  /** One scrape bounded by `timeoutMs`, then one collection: the batch and its number of points. */
  async run(timeoutMs: number): Promise<{ batch: ResourceMetrics; points: number; report: ScrapeReport }> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new TimeoutError('scrape', timeoutMs));
    }, timeoutMs);
    timer.unref();
    let report: ScrapeReport;
    try {
      report = await Promise.race([
        this.#scraper.scrape(controller.signal),
        new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => {
            reject(toError(controller.signal.reason));
          });
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.#tracker.observed = new Map();
    const { resourceMetrics, errors } = await this.#reader.collect();
    const callbackErrors = new Map(report.errors);
    errors.forEach((error, i) => callbackErrors.set(`collect#${i}`, toError(error)));
    const batch = this.#tracker.prune(resourceMetrics);
    const points = countPoints(batch);
    return { batch, points, report: { errors: callbackErrors } };
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
    await this.#scraper.shutdown?.();
  }
}

/** Pushes a batch and waits for the sink's callback. */
export function exportBatch(
  sink: MetricSink,
  batch: ResourceMetrics,
): Promise<{ ok: boolean; error?: Error }> {
  return new Promise((resolve) => {
    sink.export(batch, (result) => {
      resolve(
        result.code === ExportResultCode.SUCCESS
          ? { ok: true }
          : { ok: false, error: result.error ?? new Error('export failed') },
      );
    });
  });
}

/** What a scrape loop runs on every tick; it never throws (errors are the tick's to report). */
export type ScrapeTick = (next: MetricSink) => Promise<void>;

/**
 * The scrape controller's schedule, shared by every scraping receiver: the first tick after
 * `initial_delay`, then one every `collection_interval` (measured from the start of the
 * previous tick, never overlapping it), and an experiment's override of the interval
 * ({@link ScrapeLoop.setCollectionInterval}) applied at once.
 */
export class ScrapeLoop {
  readonly #schedule: ScrapeSchedule;
  readonly #tick: ScrapeTick;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #sink: MetricSink | undefined;
  #override: number | undefined;
  #stopped = false;

  constructor(schedule: ScrapeSchedule, tick: ScrapeTick) {
    this.#schedule = schedule;
    this.#tick = tick;
  }

  /** The interval in force, in ms: the override while one is set, the configured one otherwise. */
  get interval(): number {
    return this.#override ?? this.#schedule.collection_interval;
  }

  #arm(delay: number): void {
    const sink = this.#sink;
    if (this.#stopped || sink === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const started = performance.now();
      this.#inFlight = this.#tick(sink).finally(() => {
        this.#inFlight = undefined;
        this.#arm(Math.max(0, this.interval - (performance.now() - started)));
      });
    }, delay);
    this.#timer.unref();
  }

  /** Starts ticking into `next` after `initial_delay`; a second call does nothing. */
  start(next: MetricSink): void {
    if (this.#stopped || this.#sink !== undefined) return;
    this.#sink = next;
    this.#arm(this.#schedule.initial_delay);
  }

  /**
   * Ticks every `ms` from now on (`undefined` restores the configured interval). A tick waiting
   * for its timer (or for the initial delay) runs at once on the new schedule; one in flight
   * schedules the next with the new interval when it ends.
   */
  setCollectionInterval(ms: number | undefined): void {
    if (this.#override === ms) return;
    this.#override = ms;
    if (this.#sink !== undefined && this.#inFlight === undefined && !this.#stopped) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#arm(0);
    }
  }

  /** Stops the schedule and waits for a tick in flight. Safe twice and before start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#inFlight;
  }
}

/**
 * Wraps a scraper into a receiver driven by the scrape controller: every
 * `collection_interval` it scrapes (never overlapping the previous scrape), collects the SDK
 * instruments into a `ResourceMetrics` batch and pushes it into the pipeline.
 */
export function createScraperReceiver(
  settings: ComponentSettings,
  schedule: ScrapeSchedule,
  scraper: Scraper,
): Receiver {
  const errorLog = new ErrorLog(settings.logger);
  const timeoutMs = schedule.timeout ?? schedule.collection_interval;
  let runner: ScrapeRunner | undefined;
  let stopped = false;
  let previousErrorKeys = new Set<string>();
  const exports = new Set<Promise<void>>();

  const tick = async (next: MetricSink): Promise<void> => {
    if (runner === undefined) return;
    const started = performance.now();
    try {
      const { batch, points, report } = await runner.run(timeoutMs);
      const errorKeys = new Set(report.errors.keys());
      for (const [key, error] of report.errors) errorLog.report(key, error);
      for (const key of previousErrorKeys) if (!errorKeys.has(key)) errorLog.recovered(key);
      previousErrorKeys = errorKeys;
      errorLog.recovered('scrape');
      settings.telemetry.scraped(performance.now() - started, report.errors.size);
      settings.telemetry.received(points);
      // The next scrape does not wait for the exporters: an exporter that acknowledges
      // only once its data is on disk or on the wire must not slow the schedule down.
      // Exporters bound what they hold themselves (queues, buffers).
      const exported = exportBatch(next, batch).then((result) => {
        if (result.ok) {
          settings.telemetry.exported(points);
          errorLog.recovered('export');
        } else {
          settings.telemetry.failed(points);
          errorLog.report('export', result.error);
        }
      });
      exports.add(exported);
      void exported.finally(() => exports.delete(exported));
    } catch (error) {
      settings.telemetry.scraped(performance.now() - started, 1);
      errorLog.report('scrape', error);
    }
  };
  const loop = new ScrapeLoop(schedule, tick);

  return {
    start(next) {
      if (stopped || runner !== undefined) return Promise.resolve();
      runner = new ScrapeRunner(scraper, settings);
      loop.start(next);
      return Promise.resolve();
    },
    setCollectionInterval(ms) {
      loop.setCollectionInterval(ms);
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await loop.stop();
      await Promise.all(exports);
      await runner?.shutdown();
      if (runner === undefined) await scraper.shutdown?.();
    },
  };
}
