import type { EncodableSeries } from './proto.ts';
import { encodeWriteRequest } from './proto.ts';
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

interface Accumulator {
  readonly labels: Uint8Array;
  readonly values: number[];
  readonly timestamps: number[];
  stale: Set<number> | undefined;
}

class ShardBuffer {
  series = new Map<SeriesRef, Accumulator>();
  samples = 0;
  points = 0;

  add(ref: SeriesRef, value: number, timestamp: number, stale: boolean): void {
    let acc = this.series.get(ref);
    if (acc === undefined) {
      acc = { labels: ref.labels, values: [], timestamps: [], stale: undefined };
      this.series.set(ref, acc);
    }
    if (stale) (acc.stale ??= new Set()).add(acc.values.length);
    acc.values.push(value);
    acc.timestamps.push(timestamp);
    this.samples += 1;
  }

  take(shard: number): BuiltRequest | undefined {
    if (this.samples === 0) return undefined;
    const series: EncodableSeries[] = [...this.series.values()];
    const request = { shard, bytes: encodeWriteRequest(series), points: this.points, samples: this.samples };
    this.series = new Map();
    this.samples = 0;
    this.points = 0;
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
    if (buffer.samples >= this.#maxSamples) {
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
