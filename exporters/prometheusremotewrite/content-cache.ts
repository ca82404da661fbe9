import type { Attributes } from '@opentelemetry/api';

/** One Prometheus series: its identity and its labels, encoded for a request. */
export interface SeriesRef {
  /** `name{labels}` in Prometheus's text form: what identifies the series. */
  readonly key: string;
  /** The `TimeSeries.labels` field, ready to copy. */
  readonly labels: Uint8Array;
}

/** The series one data point becomes, and the shard hash they share. */
export interface PointRef {
  readonly series: readonly SeriesRef[];
  /** FNV-1a of the point's family name and labels: every sample of the point goes to one shard. */
  readonly hash: number;
  /** For histograms: the boundaries and whether `_sum` is present, to check the cache. */
  readonly boundaries?: readonly number[] | undefined;
  readonly hasSum?: boolean | undefined;
}

/**
 * Point series found by content rather than by object identity: for batches whose resource,
 * scope and attribute objects are new every time (decoded from OTLP requests at a gateway),
 * where the identity caches never hit. Entries are kept per source (resource and scope) for
 * the series of its last two batches, so a source's series that end are forgotten with it;
 * sources silent for `idleBatches` batches are dropped entirely.
 */
export class ContentCache {
  readonly #sources = new Map<string, SourceEntries>();
  readonly #idleBatches: number;
  #batch = 0;

  constructor(idleBatches = 4096) {
    this.#idleBatches = idleBatches;
  }

  /** Starts a batch: every source met from now on begins a new generation. */
  beginBatch(): void {
    this.#batch += 1;
    if (this.#batch % this.#idleBatches !== 0) return;
    for (const [key, entries] of this.#sources) {
      if (this.#batch - entries.batch >= this.#idleBatches) this.#sources.delete(key);
    }
  }

  /** The entries of one source for this batch. */
  source(key: string): SourceEntries {
    let entries = this.#sources.get(key);
    if (entries === undefined) {
      entries = new SourceEntries(this.#batch);
      this.#sources.set(key, entries);
    }
    entries.touch(this.#batch);
    return entries;
  }
}

/** A point's series remembered at its position in its metric. */
export interface PositionSlot {
  attributes: Attributes;
  ref: PointRef;
}

/** One source's points by content, in two generations, and by position. */
export class SourceEntries {
  /**
   * By family and index of the point in its metric: a source sends the same points in the
   * same order scrape after scrape, so comparing the attributes with those of the point at
   * that place last time is enough, without building a text.
   */
  readonly positions = new Map<string, PositionSlot[]>();
  #current = new Map<string, PointRef>();
  #previous = new Map<string, PointRef>();
  batch: number;

  constructor(batch: number) {
    this.batch = batch;
  }

  touch(batch: number): void {
    if (batch === this.batch) return;
    this.batch = batch;
    this.#previous = this.#current;
    this.#current = new Map();
  }

  get(key: string): PointRef | undefined {
    const current = this.#current.get(key);
    if (current !== undefined) return current;
    const previous = this.#previous.get(key);
    if (previous !== undefined) this.#current.set(key, previous);
    return previous;
  }

  set(key: string, ref: PointRef): void {
    this.#current.set(key, ref);
  }
}

/** Whether two attribute sets hold the same keys with identical (primitive) values. */
export function sameAttributes(a: Attributes, b: Attributes): boolean {
  let count = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    count += 1;
  }
  for (const key in b) {
    if (!(key in a)) return false;
    count -= 1;
  }
  return count === 0;
}

/**
 * A text that tells attribute sets apart: keys and values in the object's order, each value
 * tagged with its type. Two objects with the same attributes in another order get different
 * texts (a miss, never a wrong hit).
 */
export function attributesText(family: string, attributes: Attributes): string {
  let text = family;
  for (const key in attributes) {
    const value = attributes[key];
    text += `\u0001${key}\u0002${typeof value === 'string' ? value : `${typeof value}:${JSON.stringify(value)}`}`;
  }
  return text;
}
