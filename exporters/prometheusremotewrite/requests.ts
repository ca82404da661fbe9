import type { ExportResult } from '@opentelemetry/core';
import type { FlatSamples } from './proto.ts';
import { encodeFlatSamples } from './proto.ts';
import type { SeriesRef } from './series.ts';

/**
 * Gathers samples into remote-write requests, one stream of requests per shard. A series
 * always lands in the shard its point hashes to, and its samples are appended in the order
 * they come (the tracker lets only newer samples through), so each series is sent in time
 * order by its shard's single sender. A shard's request is cut when it holds `maxSamples`
 * samples (at a point boundary); what is left waits for more batches until the exporter
 * takes everything (its send deadline, a flush). Each request lists the {@link Waiter}s of
 * the exports whose samples it carries. Pure: no I/O, no clock.
 */

/** An export waiting for the requests that carry its samples to be queued. */
export interface Waiter {
  /** Requests carrying its samples that are not queued yet. */
  remaining: number;
  /** The first failure to queue one of them. */
  failure: ExportResult | undefined;
  /** Whether the export's callback was called. */
  settled: boolean;
  readonly callback: (result: ExportResult) => void;
}

/** One encoded `WriteRequest` for one shard, before compression. */
export interface BuiltRequest {
  readonly shard: number;
  readonly bytes: Uint8Array;
  /** OpenTelemetry data points it carries (for the queue bounds and the counters). */
  readonly points: number;
  readonly samples: number;
  /** The exports whose samples it carries. */
  readonly waiters: readonly Waiter[];
}

/** One shard's samples waiting for their request, flat (see {@link FlatSamples}). */
class ShardBuffer implements FlatSamples {
  length = 0;
  labels: Uint8Array[] = [];
  values: number[] = [];
  timestamps: number[] = [];
  stale: boolean[] = [];
  first: boolean[] = [];
  next: number[] = [];
  points = 0;
  waiters: Waiter[] = [];
  /** The index of each series' latest sample in the buffer. */
  #last = new Map<SeriesRef, number>();

  add(ref: SeriesRef, value: number, timestamp: number, stale: boolean): void {
    const i = this.length;
    const previous = this.#last.get(ref);
    if (previous !== undefined) this.next[previous] = i;
    this.#last.set(ref, i);
    this.labels.push(ref.labels);
    this.values.push(value);
    this.timestamps.push(timestamp);
    this.stale.push(stale);
    this.first.push(previous === undefined);
    this.next.push(-1);
    this.length += 1;
  }

  take(shard: number): BuiltRequest | undefined {
    if (this.length === 0) return undefined;
    const request = {
      shard,
      bytes: encodeFlatSamples(this),
      points: this.points,
      samples: this.length,
      waiters: this.waiters,
    };
    this.length = 0;
    this.labels = [];
    this.values = [];
    this.timestamps = [];
    this.stale = [];
    this.first = [];
    this.next = [];
    this.points = 0;
    this.waiters = [];
    this.#last = new Map();
    return request;
  }
}

/** Per-shard buffers of samples, cut into requests of at most `maxSamples` samples. */
export class ShardedRequests {
  readonly #shards: ShardBuffer[];
  readonly #maxSamples: number;
  readonly #done: BuiltRequest[] = [];
  #waiter: Waiter | undefined;

  constructor(shards: number, maxSamples: number) {
    this.#shards = Array.from({ length: shards }, () => new ShardBuffer());
    this.#maxSamples = maxSamples;
  }

  /** The shard of a point hash. */
  shardOf(hash: number): number {
    return hash % this.#shards.length;
  }

  /** Samples added from now on (until the next call) belong to `waiter`'s export. */
  attribute(waiter: Waiter | undefined): void {
    this.#waiter = waiter;
  }

  /** Adds one sample to a shard. */
  add(shard: number, ref: SeriesRef, value: number, timestamp: number, stale = false): void {
    const buffer = this.#buffer(shard);
    buffer.add(ref, value, timestamp, stale);
    const waiter = this.#waiter;
    if (waiter !== undefined && buffer.waiters.at(-1) !== waiter) {
      buffer.waiters.push(waiter);
      waiter.remaining += 1;
    }
  }

  /** Ends a point in a shard (counted when it is an OpenTelemetry point); may cut a request. */
  endPoint(shard: number, counted: boolean): void {
    const buffer = this.#buffer(shard);
    if (counted) buffer.points += 1;
    if (buffer.length >= this.#maxSamples) {
      const request = buffer.take(shard);
      if (request !== undefined) this.#done.push(request);
    }
  }

  /** Whether samples wait in a buffer. */
  get pending(): boolean {
    return this.#shards.some((buffer) => buffer.length > 0);
  }

  /** The requests cut because they were full, in the order they were cut. */
  takeFull(): BuiltRequest[] {
    return this.#done.splice(0);
  }

  /** The full requests, then what every shard holds, in shard order; empties the buffers. */
  takeAll(): BuiltRequest[] {
    const out = this.#done.splice(0);
    this.#shards.forEach((buffer, shard) => {
      const request = buffer.take(shard);
      if (request !== undefined) out.push(request);
    });
    return out;
  }

  #buffer(shard: number): ShardBuffer {
    const buffer = this.#shards[shard];
    if (buffer === undefined) throw new RangeError(`no shard ${shard}`);
    return buffer;
  }
}
