import type { Receiver } from '../../kit/component.ts';
import type { Logger } from '../../kit/logger.ts';
import { toError } from '../../kit/errors.ts';
import type { MetricsTree } from './metrics-dir.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';

type Unit = MetricsTree['optional'][number];

/**
 * The receivers of `optional` metrics, one per metric, each running only while its metric
 * is promoted for its device: a promotion starts it, its end stops it, so a metric that is
 * off is not read at all, as with kwollect. Changes are applied one at a time, in order.
 */
export class OptionalUnits {
  readonly #units: readonly Unit[];
  readonly #running = new Map<Unit, Receiver>();
  readonly #start: (unit: Unit) => Promise<Receiver>;
  readonly #wanted: (metric: KwollectMetric) => boolean;
  readonly #logger: Logger;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    units: readonly Unit[],
    start: (unit: Unit) => Promise<Receiver>,
    wanted: (metric: KwollectMetric) => boolean,
    logger: Logger,
  ) {
    this.#units = units;
    this.#start = start;
    this.#wanted = wanted;
    this.#logger = logger;
  }

  /** The optional metrics being read now. */
  collecting(): { device_id: string; name: string }[] {
    return [...this.#running.keys()].map((u) => ({ device_id: u.metric.deviceId, name: u.metric.name }));
  }

  /** Starts the units now wanted and stops the others; resolves when done. */
  reconcile(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#apply());
    return this.#queue;
  }

  async #apply(): Promise<void> {
    for (const unit of this.#units) {
      if (this.#stopped) return;
      const running = this.#running.get(unit);
      const wanted = this.#wanted(unit.metric);
      const what = { device: unit.metric.deviceId, metric: unit.metric.name };
      try {
        if (wanted && running === undefined) {
          this.#running.set(unit, await this.#start(unit));
          this.#logger.info(what, 'kwollect optional metric promoted: collecting');
        } else if (!wanted && running !== undefined) {
          this.#running.delete(unit);
          await running.shutdown();
          this.#logger.info(what, 'kwollect optional metric no longer promoted: stopped');
        }
      } catch (error) {
        this.#logger.warn({ ...what, err: toError(error) }, 'kwollect optional metric could not be switched');
      }
    }
  }

  /** Stops every unit; no unit starts afterwards. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    await this.#queue;
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(running.map((r) => r.shutdown()));
  }
}
