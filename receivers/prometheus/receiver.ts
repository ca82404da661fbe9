import { ValueType } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Receiver } from '../../kit/component.ts';
import { targetDeadline } from '../../kit/deadline.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { toError } from '../../kit/errors.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import { exportBatch, ScrapeLoop } from '../../kit/scrape-controller.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { Fetch } from './client.ts';
import { ExpositionClient } from './client.ts';
import type { PrometheusReceiverConfig, PrometheusTarget } from './config.ts';
import { keepsFamily } from './config.ts';
import { toMetrics } from './convert.ts';
import { prometheusReceiverMetadata } from './metadata.ts';
import { parseExposition } from './parse/exposition.ts';
import { isTargetInfo, targetInfoAttributes } from './target-info.ts';

const SCOPE = { name: 'inframeter/receiver/prometheus', version: readPackageVersion() };
const HELP = new Map(prometheusReceiverMetadata.metrics.map((m) => [m.name, m.description]));
// What Prometheus itself asks for: exporters on older client libraries speak OpenMetrics 0.0.1.
const ACCEPT_OPENMETRICS =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const ACCEPT_TEXT = 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1';

export type { Fetch } from './client.ts';

/**
 * The `prometheus` receiver: scrapes Prometheus exporters every `collection_interval`,
 * parses their exposition (text or OpenMetrics) and pushes one batch per target, on a
 * resource saying which target (`service.name` = job, `service.instance.id` = host:port,
 * `server.address`, `server.port`, `url.scheme`, `url.full`, and the labels of the target's own
 * `target_info`). Points keep the exporter's
 * timestamps. A target that fails is its own logged, counted error with `up` 0.
 */
export class PrometheusReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: PrometheusReceiverConfig;
  readonly #client: ExpositionClient;
  readonly #errors: ErrorLog;
  readonly #targets: PrometheusTarget[];
  readonly #start = Date.now();
  /** The scrape controller's schedule: `initial_delay`, no overlap, an experiment's override. */
  readonly #loop: ScrapeLoop;

  constructor(settings: ComponentSettings, config: PrometheusReceiverConfig, fetchImpl: Fetch = fetch) {
    this.#settings = settings;
    this.#config = config;
    this.#client = new ExpositionClient(fetchImpl);
    this.#errors = new ErrorLog(settings.logger);
    this.#targets = config.targets.map((t) => (typeof t === 'string' ? { url: t, labels: {} } : t));
    this.#loop = new ScrapeLoop(config, (next) => this.#tick(next));
  }

  /** Scrapes every target once and returns their batches (one per target). */
  async scrapeAll(): Promise<ResourceMetrics[]> {
    return Promise.all(this.#targets.map((t) => this.#scrape(t)));
  }

  async #scrape(target: PrometheusTarget): Promise<ResourceMetrics> {
    const url = new URL(target.url);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const identity: Attributes = {
      'service.name': target.job ?? this.#config.job,
      'service.instance.id': `${url.hostname}:${String(port)}`,
    };
    const attributes: Attributes = {
      ...this.#settings.resource.attributes,
      ...identity,
      'server.address': url.hostname,
      'server.port': port,
      'url.scheme': url.protocol.replace(':', ''),
      'url.full': target.url,
    };
    const started = Date.now();
    const metrics: MetricData[] = [];
    let up = 0;
    let samples = 0;
    try {
      const exposition = await this.#client.get(
        target.url,
        this.#config.prefer_openmetrics ? ACCEPT_OPENMETRICS : ACCEPT_TEXT,
        // Within the interval, so that the healthy targets' batches leave on time.
        this.#config.timeout ?? targetDeadline(this.#config),
      );
      const openMetrics = exposition.contentType.includes('application/openmetrics-text');
      const families = parseExposition(exposition.text, target.url, openMetrics);
      const scrapeMs = Date.now();
      for (const family of families) {
        if (isTargetInfo(family)) {
          // The target's metadata: resource attributes, not a metric (see targetInfoAttributes).
          samples += family.samples.length;
          Object.assign(attributes, targetInfoAttributes(family), identity);
          continue;
        }
        if (!keepsFamily(this.#config, family.name)) continue;
        if (!this.#config.honor_timestamps) for (const s of family.samples) s.timestamp = undefined;
        samples += family.samples.length;
        metrics.push(...toMetrics(family, scrapeMs, this.#start, target.labels));
      }
      up = 1;
      this.#errors.recovered(target.url);
    } catch (error) {
      this.#errors.report(target.url, toError(error));
      this.#settings.telemetry.scraped(Date.now() - started, 1);
    }
    if (up === 1) this.#settings.telemetry.scraped(Date.now() - started, 0);
    const now = Date.now();
    const gauge = (name: string, unit: string, value: number, attributes: Attributes = {}): MetricData => ({
      descriptor: { name, unit, description: HELP.get(name) ?? '', valueType: ValueType.DOUBLE },
      dataPointType: DataPointType.GAUGE,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints: [
        {
          startTime: [Math.floor(now / 1000), (now % 1000) * 1e6],
          endTime: [Math.floor(now / 1000), (now % 1000) * 1e6],
          attributes,
          value,
        },
      ],
    });
    metrics.push(
      ...[
        gauge('up', '', up),
        gauge('scrape_duration_seconds', 's', (now - started) / 1000),
        gauge('scrape_samples_scraped', '', samples),
      ].filter((m) => this.#config.metrics[m.descriptor.name]?.enabled !== false),
    );
    return { resource: resourceFromAttributes(attributes), scopeMetrics: [{ scope: SCOPE, metrics }] };
  }

  async #tick(next: MetricSink): Promise<void> {
    const batches = await this.scrapeAll();
    for (const batch of batches) {
      const points = countPoints(batch);
      this.#settings.telemetry.received(points);
      const result = await exportBatch(next, batch);
      if (result.ok) this.#settings.telemetry.exported(points);
      else {
        this.#settings.telemetry.failed(points);
        this.#errors.report('export', result.error ?? new Error('export failed'));
      }
    }
  }

  start(next: MetricSink): Promise<void> {
    this.#loop.start(next);
    return Promise.resolve();
  }

  /** Scrapes every `ms` while an experiment asks it to; `undefined` restores `collection_interval`. */
  setCollectionInterval(ms: number | undefined): void {
    this.#loop.setCollectionInterval(ms);
  }

  async shutdown(): Promise<void> {
    await this.#loop.stop();
  }
}
