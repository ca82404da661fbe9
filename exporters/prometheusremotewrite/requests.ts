import type { FlatSamples } from './proto.ts';
import { encodeFlatSamples } from './proto.ts';
import type { SeriesRef } from './series.ts';

/**
 * Gathers samples into remote-write requests, one stream of requests per shard. A series
 * always lands in the shard its point hashes to, and its samples are appended in the order
 * they come (the tracker lets only newer samples through), so each series is sent in time
 * order by its shard's single sender. A shard's request is cut when it holds
 * `maxSamples` samples, at a point boundary. Pure: no I/O, no clock.
 */

/** One encoded `WriteRequest` for one shard, before compression. */
export interface BuiltRequest {
  readonly shard: number;
  readonly bytes: Uint8Array;
  /** OpenTelemetry data points it carries (for the queue bounds and the counters). */
  readonly points: number;
  readonly samples: number;
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
    const request = { shard, bytes: encodeFlatSamples(this), points: this.points, samples: this.length };
    this.length = 0;
    this.labels = [];
    this.values = [];
    this.timestamps = [];
    this.stale = [];
    this.first = [];
    this.next = [];
    this.points = 0;
    this.#last = new Map();
    return request;
  }
}

/** Per-shard buffers of samples, cut into requests of at most `maxSamples` samples. */
export class ShardedRequests {
  readonly #shards: ShardBuffer[];
  readonly #maxSamples: number;
  readonly #done: BuiltRequest[] = [];

  constructor(shards: number, maxSamples: number) {
    this.#shards = Array.from({ length: shards }, () => new ShardBuffer());
    this.#maxSamples = maxSamples;
  }

  /** The shard of a point hash. */
  shardOf(hash: number): number {
    return hash % this.#shards.length;
  }

  /** Adds one sample to a shard. */
  add(shard: number, ref: SeriesRef, value: number, timestamp: number, stale = false): void {
    this.#buffer(shard).add(ref, value, timestamp, stale);
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

  /** Every request cut so far and what the shards still hold, in shard order; empties the buffers. */
  drain(): BuiltRequest[] {
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
