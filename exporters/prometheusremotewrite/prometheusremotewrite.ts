import { join } from 'node:path';
import type { Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { compressSync } from 'snappy';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import type { DeliveryOptions, SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';
import { toError } from '../../kit/errors.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { RemoteWriteClient } from './client.ts';
import { createRemoteWriteClient } from './client.ts';
import type { RemoteWriteConfig } from './config.ts';
import { ShardedRequests } from './requests.ts';
import type { BuiltRequest, Waiter } from './requests.ts';
import type { MappingDropReason, PointRef } from './series.ts';
import { SeriesMapper } from './series.ts';
import { SeriesTracker } from './tracker.ts';

/** Test seams besides the delivery's: the client and the clocks. */
export interface RemoteWriteOptions extends DeliveryOptions {
  readonly client?: RemoteWriteClient;
  /** Wall clock in ms since the epoch (stale markers of idle sources). */
  readonly wallClock?: () => number;
}

/**
 * The `prometheusremotewrite` exporter: Prometheus Remote-Write 1.0 (a snappy-compressed
 * protobuf `WriteRequest` per POST) to Prometheus, Mimir, Thanos Receive, VictoriaMetrics or
 * anything that takes it. Each batch is turned into samples at once (names and labels of the
 * `prometheus` exporter, stale markers for series that ended) and spread over `shards` by
 * series; a shard gathers samples of successive batches into requests of up to
 * `max_samples_per_send` samples, sent within `batch_send_deadline`. Each shard's requests go
 * through the shared delivery queue (service/delivery): queued in memory or on disk, sent in
 * order by one sender per shard, retried on 5xx, 429 and connection failures, dropped and
 * counted on other 4xx.
 */
export class RemoteWriteExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: RemoteWriteConfig;
  readonly #options: RemoteWriteOptions;
  readonly #shards: Delivery[];
  readonly #mapper: SeriesMapper;
  readonly #tracker: SeriesTracker;
  readonly #requests: ShardedRequests;
  readonly #rejected: Counter;
  readonly #now: () => number;
  readonly #wallClock: () => number;
  #client: RemoteWriteClient | undefined;
  #starting: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #acknowledgeBuffered: boolean;
  #stopped = false;

  constructor(settings: ComponentSettings, config: RemoteWriteConfig, options: RemoteWriteOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#wallClock = options.wallClock ?? Date.now;
    this.#mapper = new SeriesMapper({
      namespace: config.namespace,
      externalLabels: config.external_labels,
      resourceToTelemetry: config.resource_to_telemetry_conversion.enabled,
      addMetricSuffixes: config.add_metric_suffixes,
      scopeLabels: !config.without_scope_info,
      targetInfo: config.target_info.enabled,
    });
    this.#acknowledgeBuffered = config.sending_queue.enabled && config.sending_queue.storage === 'memory';
    this.#tracker = new SeriesTracker(config.stale_markers.enabled, config.stale_markers.idle_timeout);
    this.#requests = new ShardedRequests(config.shards, config.max_samples_per_send);
    this.#shards = Array.from({ length: config.shards }, (_, shard) => this.#createShard(shard));
    this.#rejected = settings.meter.createCounter('inframeter.exporter.points.rejected', {
      unit: '{point}',
      description: 'Data points in requests the backend refused for good (a 4xx other than 429), by reason.',
      valueType: ValueType.INT,
    });
  }

  /** One shard's delivery: its share of the queue bounds, its own directory, one sender. */
  #createShard(shard: number): Delivery {
    const { sending_queue: queue, retry_on_failure: retry, shards } = this.#config;
    const config = {
      sending_queue: {
        ...queue,
        num_consumers: 1,
        queue_size: Math.ceil(queue.queue_size / shards),
        max_bytes: Math.ceil(queue.max_bytes / shards),
        directory: queue.directory === undefined ? undefined : join(queue.directory, `shard-${shard}`),
      },
      retry_on_failure: retry,
    };
    const settings: ComponentSettings = {
      ...this.#settings,
      id: `${this.#settings.id}#${shard}`,
      logger: this.#settings.logger.child({ shard }),
    };
    return new Delivery(settings, config, (request) => this.#send(request), this.#options);
  }

  /** Creates the HTTP client, opens (and replays) the shards' queues, starts the idle sweep. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#client =
      this.#options.client ?? createRemoteWriteClient(this.#config, `inframeter/${readPackageVersion()}`);
    const url = new URL(this.#config.endpoint);
    const credentials =
      this.#config.auth.bearer_token !== undefined || this.#config.auth.basic_auth !== undefined;
    if (url.protocol === 'http:' && credentials && !isLoopback(url.hostname)) {
      this.#settings.logger.warn(
        { endpoint: url.origin },
        'sending credentials in plain text (http://) to a host that is not loopback',
      );
    }
    await Promise.all(this.#shards.map((shard) => shard.start()));
    const idle = this.#config.stale_markers.idle_timeout;
    this.#sweeper = setInterval(
      () => {
        this.#sweepIdle();
      },
      Math.max(1000, Math.min(idle / 2, 30_000)),
    );
    this.#sweeper.unref();
  }

  async #send(request: SendRequest): Promise<SendResult> {
    if (this.#client === undefined) {
      // Batches replayed from disk before start finished wait for the client.
      await this.start();
      return this.#send(request);
    }
    const outcome = await this.#client.post(request.bytes);
    if (outcome.ok) return { ok: true };
    if (!outcome.retryable && outcome.status !== undefined) {
      this.#rejected.add(request.points, {
        'component.id': this.#settings.id,
        reason: `http_${outcome.status}`,
      });
    }
    return {
      ok: false,
      error: new ExportFailure(outcome.message, {
        retryable: outcome.retryable,
        retryAfterMs: outcome.retryAfterMs,
      }),
    };
  }

  /**
   * Turns the batch into samples in the shards' buffers at once; full requests are queued
   * at once, the rest within `batch_send_deadline`, gathered with the next batches. With a
   * memory queue the callback hears at once; with a persistent queue once every request
   * carrying the batch's samples is on disk; without a queue, once they are sent.
   */
  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new Error(`exporter ${this.#settings.id} is shut down`),
      });
      return;
    }
    const waiter: Waiter = { remaining: 0, failure: undefined, settled: false, callback: resultCallback };
    try {
      this.#requests.attribute(waiter);
      this.#build(batch);
    } catch (error) {
      // What was added before the failure is still sent; the pipeline hears of the failure.
      settle(waiter, { code: ExportResultCode.FAILED, error: toError(error) });
    } finally {
      this.#requests.attribute(undefined);
    }
    this.#enqueue(this.#requests.takeFull());
    // A memory queue acknowledges at once anyway: samples in a buffer are as safe as queued
    // ones. A persistent queue acknowledges once they are on disk; no queue, once sent.
    if (waiter.remaining === 0 || this.#acknowledgeBuffered)
      settle(waiter, waiter.failure ?? { code: ExportResultCode.SUCCESS });
    this.#scheduleFlush();
  }

  /** The batch's samples into the shards' buffers, then stale markers of the series it ended. */
  #build(batch: ResourceMetrics): void {
    const now = this.#now();
    const dropped = new Map<MappingDropReason | 'out_of_order', number>();
    const tracker = this.#tracker;
    const requests = this.#requests;
    this.#mapper.map(batch, {
      point: (
        source: string,
        point: PointRef,
        values: readonly number[],
        timestamp: number,
        counted: boolean,
      ) => {
        if (!tracker.point(requests, source, point, values, timestamp, counted, now) && counted)
          dropped.set('out_of_order', (dropped.get('out_of_order') ?? 0) + 1);
      },
      dropped: (reason, points) => {
        dropped.set(reason, (dropped.get(reason) ?? 0) + points);
      },
    });
    tracker.endBatch(requests);
    for (const [reason, points] of dropped) if (points > 0) this.#settings.telemetry.dropped(points, reason);
  }

  /** Sends what waits in the buffers within the deadline, unless a flush is already due. */
  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined || !this.#requests.pending) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flushBuffers();
    }, this.#config.batch_send_deadline);
    this.#flushTimer.unref();
  }

  /** Queues everything the buffers hold now. */
  #flushBuffers(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#enqueue(this.#requests.takeAll());
  }

  /** Compresses each request and queues it in its shard; tells the exports it carries. */
  #enqueue(built: readonly BuiltRequest[]): void {
    for (const request of built) {
      const shard = this.#shards[request.shard];
      if (shard === undefined) continue;
      const done = (result: ExportResult): void => {
        for (const waiter of request.waiters) {
          if (result.code !== ExportResultCode.SUCCESS) waiter.failure ??= result;
          waiter.remaining -= 1;
          if (waiter.remaining === 0) settle(waiter, waiter.failure ?? { code: ExportResultCode.SUCCESS });
        }
      };
      let payload: Buffer;
      try {
        payload = compressSync(
          Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength),
        );
      } catch (error) {
        done({ code: ExportResultCode.FAILED, error: toError(error) });
        continue;
      }
      shard.exportEncoded(payload, request.points, done);
    }
  }

  /** Stale markers for the series of sources that went quiet. */
  #sweepIdle(): void {
    if (this.#stopped) return;
    try {
      this.#tracker.sweepIdle(this.#requests, this.#now(), this.#wallClock());
      this.#scheduleFlush();
    } catch (error) {
      this.#settings.logger.warn(
        { err: toError(error) },
        'stale markers of idle sources could not be queued',
      );
    }
  }

  /** What the shards' queues hold now, summed (for tests and diagnostics). */
  status(): ReturnType<Delivery['status']> {
    const all = this.#shards.map((shard) => shard.status());
    const sum = (key: keyof ReturnType<Delivery['status']>): number =>
      all.reduce((total, status) => total + status[key], 0);
    return {
      queuedBatches: sum('queuedBatches'),
      queuedPoints: sum('queuedPoints'),
      queuedBytes: sum('queuedBytes'),
      inFlight: sum('inFlight'),
      sentPoints: sum('sentPoints'),
    };
  }

  async forceFlush(): Promise<void> {
    this.#flushBuffers();
    await Promise.all(this.#shards.map((shard) => shard.forceFlush()));
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#sweeper);
    // What waits in the buffers goes to the queues (a persistent queue keeps it).
    this.#flushBuffers();
    await Promise.all(this.#shards.map((shard) => shard.shutdown()));
    this.#client?.close();
  }

  describe(): string {
    const url = new URL(this.#config.endpoint);
    const queue = this.#config.sending_queue;
    const storage = queue.enabled
      ? queue.storage === 'file'
        ? `, queue in ${queue.directory ?? ''}`
        : ', memory queue'
      : '';
    return `Prometheus remote write ${url.origin}${url.pathname}, ${this.#config.shards} shards${storage}`;
  }
}

/** Calls an export's callback, once. */
function settle(waiter: Waiter, result: ExportResult): void {
  if (waiter.settled) return;
  waiter.settled = true;
  waiter.callback(result);
}

/** Whether a host is the loopback interface. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}
