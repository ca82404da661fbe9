import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import type { ExpositionPlan } from '../../kit/prometheus/exposition.ts';
import { plannedValueText } from '../../kit/prometheus/exposition.ts';

/** Room for a sample's value text when the buffer is first sized (a float is at most 24 bytes). */
const VALUE_BYTES = 32;
const LINE_FEED = 0x0a;

/**
 * A plan's rendering written as UTF-8 bytes into one buffer kept from scrape to scrape: the
 * fixed text before each value (metadata lines, `name{labels} `) is encoded once per plan, and
 * a scrape copies those bytes and writes only the values. The bytes are those of
 * `renderPlanned`'s text (kit/prometheus/exposition.ts), but no exposition-sized string is
 * built: nothing that size is left for the garbage collector or, alive during a scavenge,
 * promoted to the old generation. It costs the fixed bytes and the buffer, each about the
 * exposition's size, for as long as the plan lasts. Justified by `npm run build && node
 * bench/agent.bench.ts --only scrape200,scrape1000` (docs/performance.md, node agent).
 */
export class PlannedBytes {
  readonly #plan: ExpositionPlan;
  /** `fixed[i]`: the bytes of sample `i`'s preceding text and prefix. */
  readonly #fixed: Uint8Array[];
  readonly #tail: Uint8Array;
  #buffer: Buffer;

  constructor(plan: ExpositionPlan) {
    this.#plan = plan;
    // All the fixed texts in one ArrayBuffer, each sample's a view of it: one backing store
    // rather than one per sample (about 200 bytes of bookkeeping each, 1,300 samples in the
    // default configuration's exposition).
    const encoder = new TextEncoder();
    const texts = plan.samples.map((sample, i) => `${plan.before[i] ?? ''}${sample.prefix}`);
    const all = new Uint8Array(texts.reduce((bytes, text) => bytes + Buffer.byteLength(text), 0));
    let start = 0;
    this.#fixed = texts.map((text) => {
      const end = start + encoder.encodeInto(text, all.subarray(start)).written;
      const view = all.subarray(start, end);
      start = end;
      return view;
    });
    this.#tail = encoder.encode(plan.tail);
    let size = this.#tail.length;
    for (const bytes of this.#fixed) size += bytes.length + VALUE_BYTES;
    this.#buffer = Buffer.allocUnsafe(size);
  }

  /**
   * The exposition with the current points of the plan's samples (`points[i]` holds sample
   * `i`'s): a view of the buffer, valid until the next call. Undefined when a point no longer
   * holds a number.
   */
  render(
    points: readonly { readonly point: DataPoint<number> | DataPoint<Histogram> }[],
  ): Uint8Array | undefined {
    const samples = this.#plan.samples;
    let at = 0;
    for (let i = 0; i < samples.length; i += 1) {
      const sample = samples[i];
      const fixed = this.#fixed[i];
      const point = points[i]?.point;
      if (
        sample === undefined ||
        fixed === undefined ||
        point === undefined ||
        typeof point.value !== 'number'
      )
        return undefined;
      const value = plannedValueText(this.#plan, sample, point as DataPoint<number>);
      // A UTF-16 unit takes at most 3 bytes in UTF-8.
      const buffer = this.#room(at, fixed.length + 3 * value.length + 1);
      buffer.set(fixed, at);
      at += fixed.length;
      at += buffer.write(value, at, 'utf8');
      buffer[at] = LINE_FEED;
      at += 1;
    }
    const buffer = this.#room(at, this.#tail.length);
    buffer.set(this.#tail, at);
    return buffer.subarray(0, at + this.#tail.length);
  }

  /** The buffer, grown (its first `used` bytes kept) when it has not `needed` bytes after `used`. */
  #room(used: number, needed: number): Buffer {
    if (used + needed <= this.#buffer.length) return this.#buffer;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, used + needed));
    this.#buffer.copy(grown, 0, 0, used);
    this.#buffer = grown;
    return grown;
  }
}
