import type { ShardedRequests } from './requests.ts';
import type { PointRef, SeriesRef } from './series.ts';

/**
 * What the exporter remembers of every series it sent: the time of its last sample, so that
 * an older or repeated sample is left out before Prometheus refuses the whole request for it
 * (a remote-write receiver rolls back a request with one out-of-order sample); and the source
 * (resource and scope) it came from, for stale markers.
 *
 * A series **ends** when a batch from its source no longer carries it (a process exited, a
 * disk was removed: the scraper stops reporting it), or when its source has sent nothing for
 * `idle_timeout` (a receiver stopped, an agent went away). It then gets a stale marker, the
 * special NaN Prometheus writes itself when a scraped series disappears, so that queries stop
 * showing it at once instead of five minutes later. The marker is timed at the source's
 * latest sample in that batch (or at the clock, for an idle source), never before the
 * series' last sample. This assumes one batch carries a whole scrape of a source, which is
 * what scrapers and the batch processor do (unless `send_batch_max_size` splits batches).
 */

interface SeriesState {
  readonly ref: SeriesRef;
  readonly shard: number;
  lastTimestamp: number;
  source: Source;
  /** The source's generation in which the series was last seen. */
  generation: number;
}

interface Source {
  readonly key: string;
  readonly series: Set<SeriesState>;
  generation: number;
  /** Latest sample time in the batch being read. */
  latest: number;
  /** Clock time (ms) the source was last heard from. */
  heardAt: number;
  /** The number of the batch that last carried the source. */
  batch: number;
}

/** What reading one batch did. */
export interface TrackReport {
  /** Points left out because they were not newer than the series' last sample. */
  outOfOrder: number;
  /** Stale markers written. */
  staleMarkers: number;
}

/** Remembers series and sources; writes samples and stale markers into the requests. */
export class SeriesTracker {
  readonly #series = new Map<string, SeriesState>();
  readonly #sources = new Map<string, Source>();
  readonly #staleMarkers: boolean;
  readonly #idleTimeoutMs: number;
  #touched: Source[] = [];
  #batch = 0;

  /**
   * @param staleMarkers write stale markers (false: only forget the series)
   * @param idleTimeoutMs a source silent this long has all its series ended
   */
  constructor(staleMarkers: boolean, idleTimeoutMs: number) {
    this.#staleMarkers = staleMarkers;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Series remembered. */
  get size(): number {
    return this.#series.size;
  }

  /**
   * One point of the batch being read: its samples go to its shard unless it is not newer
   * than what was sent for its series. Returns false when it was left out.
   */
  point(
    requests: ShardedRequests,
    sourceKey: string,
    point: PointRef,
    values: readonly number[],
    timestamp: number,
    counted: boolean,
    now: number,
  ): boolean {
    const source = this.#source(sourceKey, now);
    if (timestamp > source.latest) source.latest = timestamp;
    const shard = requests.shardOf(point.hash);
    let accepted = true;
    const { series } = point;
    for (let i = 0; i < series.length; i += 1) {
      const ref = series[i];
      if (ref === undefined) continue;
      let state = this.#series.get(ref.key);
      if (state === undefined) {
        state = { ref, shard, lastTimestamp: -Infinity, source, generation: source.generation };
        this.#series.set(ref.key, state);
        source.series.add(state);
      } else if (state.source !== source) {
        state.source.series.delete(state);
        state.source = source;
        source.series.add(state);
      }
      state.generation = source.generation;
      if (timestamp <= state.lastTimestamp) {
        accepted = false;
        continue;
      }
      state.lastTimestamp = timestamp;
      // A series keeps the shard it was first given, so its samples stay in one queue.
      requests.add(state.shard, state.ref, values[i] ?? 0, timestamp);
    }
    requests.endPoint(shard, counted && accepted);
    return accepted;
  }

  /** Ends the batch: series of the sources it carried that it no longer carries get stale markers. */
  endBatch(requests: ShardedRequests): number {
    let markers = 0;
    for (const source of this.#touched) {
      for (const state of source.series) {
        if (state.generation === source.generation) continue;
        markers += this.#end(requests, state, source.latest);
      }
    }
    this.#touched = [];
    this.#batch += 1;
    return markers;
  }

  /** Ends every series of the sources not heard from for the idle timeout, at `wallClockMs`. */
  sweepIdle(requests: ShardedRequests, now: number, wallClockMs: number): number {
    let markers = 0;
    for (const source of this.#sources.values()) {
      if (now - source.heardAt < this.#idleTimeoutMs) continue;
      for (const state of source.series) markers += this.#end(requests, state, wallClockMs);
      this.#sources.delete(source.key);
    }
    return markers;
  }

  #end(requests: ShardedRequests, state: SeriesState, timestamp: number): number {
    state.source.series.delete(state);
    this.#series.delete(state.ref.key);
    if (!this.#staleMarkers || timestamp <= state.lastTimestamp) return 0;
    requests.add(state.shard, state.ref, Number.NaN, timestamp, true);
    requests.endPoint(state.shard, false);
    return 1;
  }

  #source(key: string, now: number): Source {
    let source = this.#sources.get(key);
    if (source === undefined) {
      source = { key, series: new Set(), generation: 0, latest: -Infinity, heardAt: now, batch: -1 };
      this.#sources.set(key, source);
    }
    if (source.batch !== this.#batch) {
      // First point of this source in the batch: a new generation of its series begins.
      source.batch = this.#batch;
      source.generation += 1;
      source.latest = -Infinity;
      source.heardAt = now;
      this.#touched.push(source);
    }
    return source;
  }
}
