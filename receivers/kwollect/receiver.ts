import { ExportResultCode } from '@opentelemetry/core';
import type { ComponentSettings, MetricSink, Receiver } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { ConfigError, toError } from '../../kit/errors.ts';
import type { KwollectConfig, Promotion } from './config.ts';
import { LOG_LEVELS } from './config.ts';
import type { CheckedReceiver, MetricsTree } from './metrics-dir.ts';
import { FACTORIES, loadMetricsTree } from './metrics-dir.ts';
import { OptionalUnits } from './optional-units.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { PromotedMetricsReader } from './promoted-db.ts';
import { Promotions } from './promotions.ts';
import { createTransform } from './reshape.ts';

/**
 * kwollect compatibility: reads a site's `metrics.d` files as they are and runs them on
 * inframeter's snmp, ipmi and prometheus receivers, one per protocol and `update_every`;
 * every point is the kwollect metric of its device (`device.id`) with the file's labels and
 * scale factor. A metric marked `optional` has a receiver of its own, running only while
 * kwollect's `promoted_metrics` table (read from PostgreSQL every
 * `promoted_metrics_interval`), the configuration or the control API promotes it for its
 * device (or its `_device_alias`).
 */
export class KwollectReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: KwollectConfig;
  readonly #promotions = new Promotions();
  readonly #errors: ErrorLog;
  readonly #inner: Receiver[] = [];
  #reader: PromotedMetricsReader | undefined;
  #optional: OptionalUnits | undefined;

  constructor(settings: ComponentSettings, config: KwollectConfig) {
    if (config.log_level !== undefined) settings.logger.level = LOG_LEVELS[config.log_level];
    this.#settings = settings;
    this.#config = config;
    this.#errors = new ErrorLog(settings.logger);
    for (const p of config.promoted_metrics) this.#promotions.add(p);
  }

  /**
   * The promoted (device, metric regex) rows in force, the database's and those switched on
   * here, and the optional metrics being collected.
   */
  listPromotedMetrics(): {
    database: Promotion[];
    api: Promotion[];
    collecting: { device_id: string; name: string }[];
  } {
    return { ...this.#promotions.list(), collecting: this.#optional?.collecting() ?? [] };
  }

  /** Switches optional metrics on; throws a SyntaxError when `metric_id` is not a regular expression. */
  promoteMetrics(promotion: Promotion): void {
    this.#promotions.add(promotion);
    this.#settings.logger.info(promotion, 'kwollect optional metrics switched on');
    void this.#optional?.reconcile();
  }

  /** Switches off what `promoteMetrics` switched on; false when it was not on. */
  demoteMetrics(promotion: Promotion): boolean {
    const was = this.#promotions.remove(promotion);
    if (was) this.#settings.logger.info(promotion, 'kwollect optional metrics switched off');
    void this.#optional?.reconcile();
    return was;
  }

  /** An optional metric's device and its alias: a promotion may name either. */
  static #devices(metric: KwollectMetric): string[] {
    const alias = metric.labels._device_alias;
    return alias === undefined ? [metric.deviceId] : [metric.deviceId, alias];
  }

  /** Whether a point of `metric`, under one of `names`, is kept. */
  #wanted(metric: KwollectMetric, names: readonly string[]): boolean {
    return !metric.optional || this.#promotions.matches(KwollectReceiver.#devices(metric), names);
  }

  /**
   * Whether an optional metric's receiver runs: SNMP and IPMI when a row matches its name;
   * a Prometheus URL when a row names its device (the names it brings are known only once
   * read; points are then kept by their own names).
   */
  #running(metric: KwollectMetric): boolean {
    const devices = KwollectReceiver.#devices(metric);
    return metric.url.scheme === 'prometheus'
      ? this.#promotions.namesDevice(devices)
      : this.#promotions.matches(devices, [metric.name]);
  }

  async start(next: MetricSink): Promise<void> {
    let tree: MetricsTree;
    try {
      tree = loadMetricsTree(this.#config.metrics_dir, this.#config.ipmi_workarounds);
    } catch (error) {
      throw new ConfigError([`metrics_dir: ${toError(error).message}`]);
    }
    const context = {
      wanted: (m: KwollectMetric, names: readonly string[]) => this.#wanted(m, names),
      dropped: (reason: string, error: Error) => {
        this.#settings.telemetry.failed(1);
        this.#errors.report(reason, error);
      },
    };
    const startOne = async ({ translated, config }: CheckedReceiver, suffix = ''): Promise<Receiver> => {
      const id = `${this.#settings.id}/${translated.type}/${String(translated.config.collection_interval)}${suffix}`;
      const receiver = FACTORIES[translated.type].create({ ...this.#settings, id }, config);
      const transform = createTransform(translated, context);
      await receiver.start({
        export: (batch, done) => {
          const out = transform(batch);
          if (out === undefined) done({ code: ExportResultCode.SUCCESS });
          else next.export(out, done);
        },
        forceFlush: () => next.forceFlush(),
        shutdown: () => Promise.resolve(),
      });
      return receiver;
    };
    for (const r of tree.receivers) this.#inner.push(await startOne(r));
    this.#optional = new OptionalUnits(
      tree.optional,
      (unit) => startOne(unit, `/${unit.metric.name}@${unit.metric.deviceId}`),
      (metric) => this.#running(metric),
      this.#settings.logger,
    );
    await this.#optional.reconcile();
    if (this.#config.db_host !== undefined) {
      this.#reader = new PromotedMetricsReader(this.#config, this.#settings.logger, (rows) => {
        for (const bad of this.#promotions.setDatabase(rows))
          this.#errors.report(
            `promoted_metrics ${bad.metric_id}`,
            new Error(
              `promoted_metrics: metric_id ${JSON.stringify(bad.metric_id)} is not a regular expression`,
            ),
          );
        void this.#optional?.reconcile();
      });
      this.#reader.start();
    }
    this.#settings.logger.info(
      { metrics: tree.metrics.length, receivers: this.#inner.length },
      'kwollect metrics loaded',
    );
  }

  async shutdown(): Promise<void> {
    const reader = this.#reader;
    this.#reader = undefined;
    await Promise.all([
      ...this.#inner.map((r) => r.shutdown()),
      reader?.shutdown(),
      this.#optional?.shutdown(),
    ]);
    this.#inner.length = 0;
  }
}
