import { join } from 'node:path';
import type { LogSink, MetricSink, Receiver } from '../../kit/component.ts';
import type { ComponentSettings } from '../../kit/component.ts';
import type { LogApi } from './client.ts';
import { LogCollector } from './collector.ts';
import type { KubevirtLogsConfig } from './config.ts';
import type { VmTargetSource } from './targets.ts';

/** Where the cursors of a receiver instance are kept under the data directory. */
export function statePathOf(directory: string, id: string): string {
  return join(directory, '.state', `${id.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

/** How often the first round checks whether the discovery has listed. */
const DISCOVERY_POLL_MS = 50;

/** What the receiver is built from (the factory gives the Kubernetes ones; tests give their own). */
export interface KubevirtLogsDeps {
  readonly api: LogApi;
  readonly targets: VmTargetSource;
}

/**
 * The `kubevirt_logs` receiver: every `interval` (after `initial_delay`), one collection round
 * (`LogCollector`), never two at once. The logs go to the per-VM files and, when the receiver
 * is in a logs pipeline, into it as log records.
 */
export class KubevirtLogsReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: KubevirtLogsConfig;
  readonly #loadDeps: () => Promise<KubevirtLogsDeps>;
  #deps: KubevirtLogsDeps | undefined;
  #collector: LogCollector | undefined;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #started = false;
  #rounds = 0;
  #stopped = false;

  /**
   * `loadDeps` is called at start (the Kubernetes client is loaded only for a receiver that
   * runs); a rejection fails the start (an unreadable kubeconfig, no in-cluster credentials).
   */
  constructor(
    settings: ComponentSettings,
    config: KubevirtLogsConfig,
    loadDeps: () => Promise<KubevirtLogsDeps>,
  ) {
    this.#settings = settings;
    this.#config = config;
    this.#loadDeps = loadDeps;
  }

  async start(_metrics: MetricSink, logs?: LogSink): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    const deps = await this.#loadDeps();
    this.#deps = deps;
    this.#collector = new LogCollector(
      this.#settings,
      this.#config,
      deps.api,
      deps.targets,
      statePathOf(this.#config.directory, this.#settings.id),
    );
    deps.targets.start();
    const tick = (): void => {
      this.#round = this.#runRound(logs).finally(() => {
        this.#round = undefined;
        if (!this.#stopped) {
          this.#timer = setTimeout(tick, this.#config.interval);
          this.#timer.unref();
        }
      });
    };
    this.#timer = setTimeout(tick, this.#config.initial_delay);
    this.#timer.unref();
  }

  /**
   * Before the first round, waits (at most `timeout`) for the discovery's first list: a round
   * run before it would see no VM and leave their logs for the next interval.
   */
  async #discovered(): Promise<void> {
    const targets = this.#deps?.targets;
    const deadline = performance.now() + this.#config.timeout;
    while (targets !== undefined && targets.version === 0 && !this.#stop.signal.aborted) {
      if (performance.now() > deadline) {
        this.#settings.logger.warn('VM discovery has not listed yet: collecting without it this round');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, DISCOVERY_POLL_MS).unref());
    }
  }

  async #runRound(logs: LogSink | undefined): Promise<void> {
    const collector = this.#collector;
    if (collector === undefined) return;
    if (this.#rounds === 0) await this.#discovered();
    this.#rounds += 1;
    const started = performance.now();
    try {
      const report = await collector.collect(this.#stop.signal, logs);
      this.#settings.telemetry.scraped(performance.now() - started, report.errors.size);
      this.#settings.logger.debug(
        { streams: report.streams, lines: report.lines, errors: report.errors.size },
        'logs collected',
      );
    } catch (error) {
      // collect() reports per log and does not reject; anything else is a bug, logged.
      this.#settings.logger.error({ err: error }, 'log collection failed');
    }
  }

  /** Runs one round now (waits for a running one first); for tests and a manual trigger. */
  async collectNow(logs?: LogSink): Promise<void> {
    await this.#round;
    await this.#runRound(logs);
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stop.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#round;
    await this.#deps?.targets.stop();
  }
}
