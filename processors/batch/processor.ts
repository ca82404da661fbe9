import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Processor } from '../../kit/component.ts';
import { exportBatch } from '../../kit/scrape-controller.ts';
import type { BatchConfig } from './config.ts';

type Callback = (result: ExportResult) => void;

/** Batches waiting to go, for one resource. */
interface Pending {
  resource: ResourceMetrics['resource'];
  scopes: Map<string, ScopeMetrics>;
  points: number;
  callbacks: Callback[];
}

/** Keys of resources already seen: receivers hand the same Resource object on batch after batch. */
const resourceKeys = new WeakMap<ResourceMetrics['resource'], string>();

function resourceKey(batch: ResourceMetrics): string {
  let key = resourceKeys.get(batch.resource);
  if (key === undefined) {
    key = JSON.stringify(
      Object.entries(batch.resource.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    resourceKeys.set(batch.resource, key);
  }
  return key;
}

/** Splits one resource's scopes into batches of at most `max` points (0: no limit). */
export function split(
  resource: ResourceMetrics['resource'],
  scopes: readonly ScopeMetrics[],
  max: number,
): ResourceMetrics[] {
  if (max === 0) return [{ resource, scopeMetrics: [...scopes] }];
  const out: ResourceMetrics[] = [];
  let current: ScopeMetrics[] = [];
  let room = max;
  const flush = (): void => {
    if (current.length > 0) out.push({ resource, scopeMetrics: current });
    current = [];
    room = max;
  };
  for (const scope of scopes) {
    let metrics: MetricData[] = [];
    for (const metric of scope.metrics) {
      let offset = 0;
      while (offset < metric.dataPoints.length) {
        const take = Math.min(room, metric.dataPoints.length - offset);
        metrics.push({ ...metric, dataPoints: metric.dataPoints.slice(offset, offset + take) } as MetricData);
        offset += take;
        room -= take;
        if (room === 0) {
          current.push({ scope: scope.scope, metrics });
          metrics = [];
          flush();
        }
      }
    }
    if (metrics.length > 0) current.push({ scope: scope.scope, metrics });
  }
  flush();
  return out;
}

/**
 * The `batch` processor: gathers batches until `send_batch_size` points or `timeout`, merging
 * those that share a resource and a scope, and splits what exceeds `send_batch_max_size`.
 * A batch's sender hears the result of the export that carried it, so failures and
 * back-pressure reach the receiver; shutdown sends what is waiting.
 */
export class BatchProcessor implements Processor {
  readonly #config: BatchConfig;
  readonly #next: MetricSink;
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();

  constructor(_settings: ComponentSettings, config: BatchConfig, next: MetricSink) {
    this.#config = config;
    this.#next = next;
  }

  export(batch: ResourceMetrics, resultCallback: Callback): void {
    const key = resourceKey(batch);
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = { resource: batch.resource, scopes: new Map(), points: 0, callbacks: [] };
      this.#pending.set(key, pending);
    }
    for (const scope of batch.scopeMetrics) {
      const scopeKey = `${scope.scope.name}\u0000${scope.scope.version ?? ''}\u0000${scope.scope.schemaUrl ?? ''}`;
      const held = pending.scopes.get(scopeKey);
      if (held === undefined)
        pending.scopes.set(scopeKey, { scope: scope.scope, metrics: [...scope.metrics] });
      else held.metrics.push(...scope.metrics);
      for (const m of scope.metrics) pending.points += m.dataPoints.length;
    }
    pending.callbacks.push(resultCallback);
    if (pending.points >= this.#config.send_batch_size) {
      this.#send(key);
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#sendAll();
      }, this.#config.timeout);
      this.#timer.unref();
    }
  }

  #send(key: string): void {
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#pending.delete(key);
    const batches = split(pending.resource, [...pending.scopes.values()], this.#config.send_batch_max_size);
    const sent = Promise.all(batches.map((b) => exportBatch(this.#next, b))).then((results) => {
      const failed = results.find((r) => !r.ok);
      const result: ExportResult =
        failed === undefined
          ? { code: ExportResultCode.SUCCESS }
          : { code: ExportResultCode.FAILED, error: failed.error ?? new Error('export failed') };
      for (const callback of pending.callbacks) callback(result);
    });
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }

  #sendAll(): void {
    for (const key of [...this.#pending.keys()]) this.#send(key);
  }

  async forceFlush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sendAll();
    await Promise.all(this.#inFlight);
    await this.#next.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sendAll();
    await Promise.all(this.#inFlight);
  }
}
