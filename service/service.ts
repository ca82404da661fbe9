import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type {
  ComponentKind,
  ComponentSettings,
  Exporter,
  LogSink,
  MetricSink,
  Processor,
  Receiver,
} from '../kit/component.ts';
import type { Extension, ExtensionSettings } from '../kit/extension.ts';
import type { CollectorConfig } from './config.ts';
import { toError } from '../kit/errors.ts';
import { createFanout } from './fanout.ts';
import { instrumentSink } from './instrumented-sink.ts';
import { createLogFanout, instrumentLogSink } from './log-sinks.ts';
import { signalsOf } from '../kit/component.ts';
import type { Logger } from '../kit/logger.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';
import { TelemetryServer } from './telemetry-server.ts';

/** How long one component may take to flush and stop before the service moves on. */
const STOP_TIMEOUT_MS = 15_000;

/** What the application may add to a service. */
export interface ServiceOptions {
  /** Sees every batch a receiver pushes, before its pipelines (the heap policy's watch). */
  readonly onReceived?: (receiverId: string, batch: ResourceMetrics) => void;
}

/** Lifecycle state of the service. */
export type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Started<T> {
  readonly id: string;
  readonly component: T;
}

function withTimeout(promise: Promise<void>, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${what} did not finish within ${ms} ms`));
    }, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(toError(error));
      },
    );
  });
}

/**
 * The running collector: builds the pipeline graph from a validated config, starts
 * exporters first and receivers last, and stops in the reverse order so that every batch in
 * flight reaches the exporters before they flush and close.
 */
export class Service {
  readonly #config: CollectorConfig;
  readonly #logger: Logger;
  readonly #resource: Resource;
  readonly #telemetry: SelfTelemetry;
  readonly #exporters: Started<Exporter>[] = [];
  /** Processors in pipeline order (first of each pipeline first). */
  readonly #processors: Started<Processor>[] = [];
  readonly #receivers: (Started<Receiver> & { head: MetricSink; logs: LogSink | undefined })[] = [];
  #server: TelemetryServer | undefined;
  /** The enabled extensions, in `service.extensions` order. */
  readonly #extensions: Started<Extension>[] = [];
  #state: ServiceState = 'created';

  readonly #options: ServiceOptions;

  constructor(config: CollectorConfig, logger: Logger, resource: Resource, options: ServiceOptions = {}) {
    this.#config = config;
    this.#options = options;
    this.#logger = logger;
    this.#resource = resource;
    this.#telemetry = new SelfTelemetry(resource);
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The collector's own telemetry (for the internal endpoint and tests). */
  get telemetry(): SelfTelemetry {
    return this.#telemetry;
  }

  /** Address of the internal telemetry endpoint, once started. */
  get telemetryAddress(): { host: string; port: number } | undefined {
    return this.#server?.address();
  }

  /** Where each started extension serves (those that say), by id. */
  extensionAddresses(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    if (this.#state !== 'running') return out;
    for (const { id, component } of this.#extensions) {
      const where = component.describe?.();
      if (where !== undefined) out.set(id, where);
    }
    return out;
  }

  /** The started exporters, by id. */
  exporters(): ReadonlyMap<string, Exporter> {
    return new Map(this.#exporters.map((e) => [e.id, e.component]));
  }

  #settings(id: string, kind: ComponentKind, pipeline?: string): ComponentSettings {
    const bindings: Record<string, string> = { component: id, kind };
    if (pipeline !== undefined) bindings.pipeline = pipeline;
    return {
      id,
      kind,
      logger: this.#logger.child(bindings),
      telemetry: this.#telemetry.forComponent(id, kind),
      meter: this.#telemetry.meter,
      resource: this.#resource,
    };
  }

  #extensionSettings(id: string): ExtensionSettings {
    return {
      id,
      logger: this.#logger.child({ component: id, kind: 'extension' }),
      meter: this.#telemetry.meter,
      resource: this.#resource,
    };
  }

  #build(): void {
    const exporterSinks = new Map<string, MetricSink>();
    const exporterLogSinks = new Map<string, LogSink>();
    for (const [id, { factory, config }] of this.#config.exporters) {
      const settings = this.#settings(id, 'exporter');
      const exporter = factory.create(settings, config);
      this.#exporters.push({ id, component: exporter });
      exporterSinks.set(id, instrumentSink(exporter, settings.telemetry));
      if (exporter.logs !== undefined)
        exporterLogSinks.set(
          id,
          instrumentLogSink(exporter.logs, this.#telemetry.logsForComponent(id, 'exporter')),
        );
    }
    const logHeads = new Map<string, LogSink>();
    for (const pipeline of this.#config.pipelines) {
      if (pipeline.signal !== 'logs') continue;
      // No processor supports logs yet: the configuration refuses one in a logs pipeline.
      logHeads.set(
        pipeline.id,
        createLogFanout(
          pipeline.exporters.map((id) => exporterLogSinks.get(id)).filter((s) => s !== undefined),
        ),
      );
    }
    const receivers = new Map<string, Receiver>();
    for (const [id, { factory, config }] of this.#config.receivers) {
      receivers.set(id, factory.create(this.#settings(id, 'receiver'), config));
    }
    const host = {
      receivers,
      pipelines: this.#config.pipelines
        .filter((p) => p.signal === 'metrics')
        .map((p) => ({ id: p.id, receivers: p.receivers })),
    };
    for (const [id, { factory, config }] of this.#config.extensions) {
      const extension = factory.create(this.#extensionSettings(id), config);
      this.#extensions.push({ id, component: extension });
      extension.bind?.(host);
    }
    const heads = new Map<string, MetricSink>();
    for (const pipeline of this.#config.pipelines) {
      if (pipeline.signal !== 'metrics') continue;
      const exporters = createFanout(
        pipeline.exporters.map((id) => exporterSinks.get(id)).filter((s) => s !== undefined),
      );
      // An extension sees what the pipeline exports: after its processors.
      let sink: MetricSink = exporters;
      for (const { component } of this.#extensions)
        sink = component.wrapExporterSink?.(pipeline.id, sink) ?? sink;
      const chain: Started<Processor>[] = [];
      for (const id of [...pipeline.processors].reverse()) {
        const entry = this.#config.processors.get(id);
        if (entry === undefined) continue;
        const settings = this.#settings(id, 'processor', pipeline.id);
        const processor = entry.factory.create(settings, entry.config, sink);
        chain.unshift({ id: `${pipeline.id}/${id}`, component: processor });
        sink = instrumentSink(processor, settings.telemetry);
      }
      this.#processors.push(...chain);
      heads.set(pipeline.id, sink);
    }
    for (const [id, receiver] of receivers) {
      const sinks = this.#config.pipelines
        .filter((p) => p.signal === 'metrics' && p.receivers.includes(id))
        .map((p) => heads.get(p.id))
        .filter((s) => s !== undefined);
      let fanout = createFanout(sinks);
      const onReceived = this.#options.onReceived;
      if (onReceived !== undefined) {
        const next = fanout;
        fanout = {
          export: (batch, done) => {
            onReceived(id, batch);
            next.export(batch, done);
          },
          forceFlush: () => next.forceFlush(),
          shutdown: () => next.shutdown(),
        };
      }
      const factory = this.#config.receivers.get(id)?.factory;
      const logSinks = this.#config.pipelines
        .filter((p) => p.signal === 'logs' && p.receivers.includes(id))
        .map((p) => logHeads.get(p.id))
        .filter((s) => s !== undefined);
      // A receiver in no logs pipeline gets no log sink (it then builds no records).
      const logs =
        factory !== undefined && signalsOf(factory).includes('logs') && logSinks.length > 0
          ? instrumentLogSink(createLogFanout(logSinks), this.#telemetry.logsForComponent(id, 'receiver'))
          : undefined;
      this.#receivers.push({
        id,
        component: receiver,
        head: fanout,
        logs,
      });
    }
  }

  /**
   * Builds and starts everything: the telemetry endpoint, exporters, processors, then
   * receivers. On failure, stops what had started and rethrows.
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new Error(`cannot start a service that is ${this.#state}`);
    this.#state = 'starting';
    try {
      const address = this.#config.telemetry.metricsAddress;
      if (address !== undefined) {
        this.#server = new TelemetryServer(this.#telemetry, () => this.#state === 'running', this.#logger);
        await this.#server.listen(address);
      }
      this.#build();
      for (const { id, component } of this.#exporters) {
        await component.start?.().catch((error: unknown) => {
          throw new Error(`exporter ${id} failed to start: ${toError(error).message}`, { cause: error });
        });
      }
      for (const { id, component } of this.#processors) {
        await component.start?.().catch((error: unknown) => {
          throw new Error(`processor ${id} failed to start: ${toError(error).message}`, { cause: error });
        });
      }
      for (const { id, component, head, logs } of this.#receivers) {
        await (logs === undefined ? component.start(head) : component.start(head, logs)).catch(
          (error: unknown) => {
            throw new Error(`receiver ${id} failed to start: ${toError(error).message}`, { cause: error });
          },
        );
      }
      for (const { component } of this.#extensions) await component.start();
      this.#state = 'running';
      this.#logger.info(
        {
          receivers: this.#receivers.map((r) => r.id),
          processors: this.#processors.map((p) => p.id),
          exporters: this.#exporters.map((e) => e.id),
          extensions: this.#extensions.map((e) => e.id),
        },
        'collector started',
      );
    } catch (error) {
      await this.shutdown();
      throw error;
    }
  }

  /**
   * Stops receivers, then lets processors flush in pipeline order, then flushes and closes
   * exporters. Safe to call twice; each step is bounded by a timeout.
   */
  async shutdown(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    const stop = async (kind: string, id: string, action: () => Promise<void>): Promise<void> => {
      try {
        await withTimeout(action(), STOP_TIMEOUT_MS, `${kind} ${id} shutdown`);
      } catch (error) {
        this.#logger.error({ err: toError(error), component: id }, `${kind} ${id} did not stop cleanly`);
      }
    };
    for (const e of [...this.#extensions].reverse())
      if (e.component.stopServing !== undefined)
        await stop('extension', e.id, () => e.component.stopServing?.() ?? Promise.resolve());
    await Promise.all(this.#receivers.map((r) => stop('receiver', r.id, () => r.component.shutdown())));
    for (const e of [...this.#extensions].reverse())
      await stop('extension', e.id, () => e.component.shutdown());
    for (const p of this.#processors) await stop('processor', p.id, () => p.component.shutdown());
    await Promise.all(
      this.#exporters.map((e) =>
        stop('exporter', e.id, async () => {
          await e.component.forceFlush();
          await e.component.shutdown();
        }),
      ),
    );
    await this.#server?.close();
    await this.#telemetry.shutdown();
    this.#state = 'stopped';
    this.#logger.info('collector stopped');
  }
}
