import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
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

/**
 * The cardinality limit per instrument. The SDK's default (2,000) would silently fold the
 * series of a large host (many CPUs × modes, many processes) into an overflow series.
 */
const CARDINALITY_LIMIT = 100_000;

/** A reader that collects only when the controller asks. Cumulative temporality. */
class ScrapeReader extends MetricReader {
  constructor() {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      cardinalitySelector: () => CARDINALITY_LIMIT,
    });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Reads a scraper once (all its I/O), then collects its instruments into one batch. */
export class ScrapeRunner {
  readonly #scraper: Scraper;
  readonly #reader = new ScrapeReader();
  readonly #provider: MeterProvider;

  constructor(scraper: Scraper, settings: Pick<ComponentSettings, 'id' | 'resource'>) {
    this.#scraper = scraper;
    const resource = settings.resource.merge(resourceFromAttributes(scraper.resourceAttributes ?? {}));
    this.#provider = new MeterProvider({ resource, readers: [this.#reader] });
    const type = settings.id.split('/')[0] ?? settings.id;
    scraper.register(this.#provider.getMeter(`inframeter/receiver/${type}`));
  }

  /** One scrape bounded by `timeoutMs`, then one collection. */
  async run(timeoutMs: number): Promise<{ batch: ResourceMetrics; report: ScrapeReport }> {
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
    const { resourceMetrics, errors } = await this.#reader.collect();
    const callbackErrors = new Map(report.errors);
    errors.forEach((error, i) => callbackErrors.set(`collect#${i}`, toError(error)));
    return { batch: resourceMetrics, report: { errors: callbackErrors } };
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
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  let previousErrorKeys = new Set<string>();
  const exports = new Set<Promise<void>>();
  let sink: MetricSink | undefined;
  let override: number | undefined;
  const interval = (): number => override ?? schedule.collection_interval;

  const tick = async (next: MetricSink): Promise<void> => {
    if (runner === undefined) return;
    const started = performance.now();
    try {
      const { batch, report } = await runner.run(timeoutMs);
      const errorKeys = new Set(report.errors.keys());
      for (const [key, error] of report.errors) errorLog.report(key, error);
      for (const key of previousErrorKeys) if (!errorKeys.has(key)) errorLog.recovered(key);
      previousErrorKeys = errorKeys;
      errorLog.recovered('scrape');
      settings.telemetry.scraped(performance.now() - started, report.errors.size);
      const points = countPoints(batch);
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

  const schedule_ = (next: MetricSink, delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = performance.now();
      inFlight = tick(next).finally(() => {
        inFlight = undefined;
        const elapsed = performance.now() - started;
        schedule_(next, Math.max(0, interval() - elapsed));
      });
    }, delay);
    timer.unref();
  };

  return {
    start(next) {
      if (stopped || runner !== undefined) return Promise.resolve();
      runner = new ScrapeRunner(scraper, settings);
      sink = next;
      schedule_(next, schedule.initial_delay);
      return Promise.resolve();
    },
    setCollectionInterval(ms) {
      if (override === ms) return;
      override = ms;
      // A scrape waiting for its timer starts over on the new schedule; one in flight
      // schedules the next with the new interval when it ends.
      if (sink !== undefined && inFlight === undefined && !stopped) {
        if (timer !== undefined) clearTimeout(timer);
        schedule_(sink, 0);
      }
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await inFlight;
      await Promise.all(exports);
      await runner?.shutdown();
      if (runner === undefined) await scraper.shutdown?.();
    },
  };
}
