import { ExportResultCode } from '@opentelemetry/core';
import type { ComponentSettings, MetricSink, Receiver } from '../../service/component.ts';
import { ErrorLog } from '../../service/error-log.ts';
import { ConfigError, toError } from '../../service/errors.ts';
import type { KwollectConfig, Promotion } from './config.ts';
import { LOG_LEVELS } from './config.ts';
import type { MetricsTree } from './metrics-dir.ts';
import { FACTORIES, loadMetricsTree } from './metrics-dir.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { PromotedMetricsReader } from './promoted-db.ts';
import { Promotions } from './promotions.ts';
import { createTransform } from './reshape.ts';

/**
 * kwollect compatibility: reads a site's `metrics.d` files as they are and runs them on
 * inframeter's snmp, ipmi and prometheus receivers, one per protocol and `update_every`;
 * every point is the kwollect metric of its device (`device.id`) with the file's labels and
 * scale factor. Metrics marked `optional` are polled but left out until kwollect's
 * `promoted_metrics` table (read from PostgreSQL every `promoted_metrics_interval`), the
 * configuration or the control API switches them on for their device.
 */
export class KwollectReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: KwollectConfig;
  readonly #promotions = new Promotions();
  readonly #errors: ErrorLog;
  readonly #inner: Receiver[] = [];
  #reader: PromotedMetricsReader | undefined;

  constructor(settings: ComponentSettings, config: KwollectConfig) {
    if (config.log_level !== undefined) settings.logger.level = LOG_LEVELS[config.log_level];
    this.#settings = settings;
    this.#config = config;
    this.#errors = new ErrorLog(settings.logger);
    for (const p of config.promoted_metrics) this.#promotions.add(p);
  }

  /** The promoted (device, metric regex) rows in force: the database's and those switched on here. */
  listPromotedMetrics(): { database: Promotion[]; api: Promotion[] } {
    return this.#promotions.list();
  }

  /** Switches optional metrics on; throws a SyntaxError when `metric_id` is not a regular expression. */
  promoteMetrics(promotion: Promotion): void {
    this.#promotions.add(promotion);
    this.#settings.logger.info(promotion, 'kwollect optional metrics switched on');
  }

  /** Switches off what `promoteMetrics` switched on; false when it was not on. */
  demoteMetrics(promotion: Promotion): boolean {
    const was = this.#promotions.remove(promotion);
    if (was) this.#settings.logger.info(promotion, 'kwollect optional metrics switched off');
    return was;
  }

  #wanted(metric: KwollectMetric, names: readonly string[]): boolean {
    if (!metric.optional) return true;
    const alias = metric.labels._device_alias;
    const devices = alias === undefined ? [metric.deviceId] : [metric.deviceId, alias];
    return this.#promotions.matches(devices, names);
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
    for (const { translated, config } of tree.receivers) {
      const id = `${this.#settings.id}/${translated.type}/${String(translated.config.collection_interval)}`;
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
      this.#inner.push(receiver);
    }
    if (this.#config.db_host !== undefined) {
      this.#reader = new PromotedMetricsReader(this.#config, this.#settings.logger, (rows) => {
        for (const bad of this.#promotions.setDatabase(rows))
          this.#errors.report(
            `promoted_metrics ${bad.metric_id}`,
            new Error(
              `promoted_metrics: metric_id ${JSON.stringify(bad.metric_id)} is not a regular expression`,
            ),
          );
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
    await Promise.all([...this.#inner.map((r) => r.shutdown()), reader?.shutdown()]);
    this.#inner.length = 0;
  }
}
