import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Receiver, ScrapeReport, Scraper } from './component.ts';
import { ErrorLog } from './error-log.ts';
import { TimeoutError, toError } from './errors.ts';
import { countPoints } from './metrics-data.ts';

/** Timing of a scraper receiver, in milliseconds (from `scraperOptions`). */
export interface ScrapeSchedule {
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
}

/** Reads a scraper once (all its I/O), then collects its producer into one batch. */
export class ScrapeRunner {
  readonly #scraper: Scraper;
  readonly #resource: Resource;

  constructor(scraper: Scraper, settings: Pick<ComponentSettings, 'resource'>) {
    this.#scraper = scraper;
    this.#resource = settings.resource.merge(resourceFromAttributes(scraper.resourceAttributes ?? {}));
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
    const { resourceMetrics, errors } = await this.#scraper.metricProducer.collect();
    const callbackErrors = new Map(report.errors);
    errors.forEach((error, i) => callbackErrors.set(`collect#${String(i)}`, toError(error)));
    const batch: ResourceMetrics = { resource: this.#resource, scopeMetrics: resourceMetrics.scopeMetrics };
    return { batch, points: countPoints(batch), report: { errors: callbackErrors } };
  }

  async shutdown(): Promise<void> {
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
