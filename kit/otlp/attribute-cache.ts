import type { Attributes } from '@opentelemetry/api';

interface CacheEntry {
  readonly bytes: Buffer;
  readonly attributes: Attributes;
  readonly next: CacheEntry | undefined;
}

/**
 * A bounded map of attribute fields' bytes to the frozen attributes they decode to, looked
 * up by a hash of the bytes (FNV-1a) and compared byte for byte: no key string is made.
 */
export class AttributeCache {
  readonly #max: number;
  #map = new Map<number, CacheEntry>();
  #size = 0;
  constructor(maxEntries = 65_536) {
    this.#max = maxEntries;
  }

  static #hash(buf: Buffer, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ (buf[i] ?? 0), 0x01000193);
    return hash >>> 0;
  }

  /** The attributes that `buf[start, end)` decodes to, when seen before. */
  get(buf: Buffer, start: number, end: number): Attributes | undefined {
    const length = end - start;
    for (
      let entry = this.#map.get(AttributeCache.#hash(buf, start, end));
      entry !== undefined;
      entry = entry.next
    ) {
      const bytes = entry.bytes;
      if (bytes.length !== length) continue;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (bytes[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return entry.attributes;
    }
    return undefined;
  }

  set(buf: Buffer, start: number, end: number, attributes: Attributes): void {
    // Cleared when full: the series that keep arriving come back at once.
    if (this.#size >= this.#max) {
      this.#map = new Map();
      this.#size = 0;
    }
    const hash = AttributeCache.#hash(buf, start, end);
    // A copy: the request's buffer is not kept alive by the cache.
    const bytes = Buffer.from(buf.subarray(start, end));
    this.#map.set(hash, { bytes, attributes, next: this.#map.get(hash) });
    this.#size += 1;
  }

  get size(): number {
    return this.#size;
  }
}
