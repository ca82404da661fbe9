import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import type { HostPort } from '../../kit/config-types.ts';
import { formatHostPort } from '../../kit/config-types.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { keepWellFormedPoints } from '../../kit/malformed-points.ts';
import { toError } from '../../kit/errors.ts';
import type { PrometheusExporterConfig } from './config.ts';
import type { ExpositionFormat } from '../../kit/prometheus/exposition.ts';
import { ScrapeServer } from './server.ts';
import { SeriesLineCache } from './series-lines.ts';
import { SeriesStore } from './store.ts';

/** What tests and embedders may inject. */
export interface PrometheusExporterOptions {
  /** The clock for series expiry, in milliseconds. */
  readonly now?: () => number;
}

/**
 * The `prometheus` exporter: a pull exporter. Batches update a store holding the latest point
 * of every series; scrapes of `/metrics` render that store, so a scrape never waits for a
 * receiver.
 */
export class PrometheusExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: PrometheusExporterConfig;
  readonly #store: SeriesStore;
  readonly #server: ScrapeServer;
  readonly #errors: ErrorLog;
  readonly #lines: SeriesLineCache;
  #starting: Promise<void> | undefined;
  #stopped = false;

  constructor(
    settings: ComponentSettings,
    config: PrometheusExporterConfig,
    options: PrometheusExporterOptions = {},
  ) {
    this.#settings = settings;
    this.#config = config;
    this.#store = new SeriesStore(config.metric_expiration, options.now);
    this.#errors = new ErrorLog(settings.logger);
    this.#lines = new SeriesLineCache(this.#store, {
      namespace: config.namespace,
      constLabels: config.const_labels,
      resourceToTelemetry: config.resource_to_telemetry_conversion.enabled,
      addMetricSuffixes: config.add_metric_suffixes,
      timestamps: config.send_timestamps,
      scopeLabels: !config.without_scope_info,
      onProblem: (problem) => {
        this.#errors.report(problem, new Error(problem));
      },
    });
    this.#server = new ScrapeServer((format) => this.#lines.renderBytes(format), {
      openMetrics: config.enable_open_metrics,
      logger: settings.logger,
    });
  }

  /** Starts listening on `endpoint`; rejects when the address cannot be bound. Idempotent. */
  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('the prometheus exporter is shut down'));
    this.#starting ??= this.#server.listen(this.#config.endpoint);
    return this.#starting;
  }

  /**
   * Stores the batch's points; never throws, calls `resultCallback` once. Points received,
   * exported and failed are counted once, by the service around every exporter
   * (service/instrumented-sink.ts); here only what is dropped, by reason.
   */
  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new Error('the prometheus exporter is shut down'),
      });
      return;
    }
    let result: ExportResult;
    try {
      const wellFormed = keepWellFormedPoints(batch, {
        telemetry: this.#settings.telemetry,
        errors: this.#errors,
      });
      const report = this.#store.ingest(wellFormed);
      for (const [reason, count] of report.dropped) this.#settings.telemetry.dropped(count, reason);
      result = { code: ExportResultCode.SUCCESS };
    } catch (error) {
      result = { code: ExportResultCode.FAILED, error: toError(error) };
    }
    resultCallback(result);
  }

  /** The exposition of what the store holds now, in a format: what a scrape answers. */
  render(format: ExpositionFormat = 'text'): string {
    return this.#lines.render(format);
  }

  /** The address the endpoint listens on (the real port when 0 was configured); undefined before start. */
  address(): HostPort | undefined {
    return this.#server.address();
  }

  describe(): string {
    const bound = this.address() ?? this.#config.endpoint;
    return `http://${formatHostPort(bound)}/metrics`;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops listening; safe to call twice or before start. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    // A failed start already rejected to its caller; shutdown only needs it settled.
    await this.#starting?.catch(() => undefined);
    await this.#server.close();
  }
}
