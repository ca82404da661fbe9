import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import type { ExpositionPlan } from '../../kit/prometheus/exposition.ts';
import { plannedValueText } from '../../kit/prometheus/exposition.ts';
import type { PlannedSample } from '../../kit/prometheus/exposition.ts';

/** Room for a sample's value text when the buffer is first sized (a float is at most 24 bytes). */
const VALUE_BYTES = 32;
const LINE_FEED = 0x0a;

/**
 * The buffers a plan renders with, kept by the exporter from one plan to the next (one set per
 * format). A plan lasts only while the store's series stay the same; the default
 * configuration's process receiver changes its top processes at almost every scrape, so a new
 * plan came with almost every scrape, and with it two new buffers the exposition's size (about
 * 0.9 MB together, 110 MB a minute at a 400 ms interval) for the garbage collector to free.
 * Reused, a new plan writes into the previous plan's buffers, made anew (an eighth larger than
 * needed) when they are too small or four times larger than needed, so that one large
 * exposition does not stay.
 */
export class PlanBuffers {
  #fixed = Buffer.alloc(0);
  #output = Buffer.alloc(0);

  /**
   * At least `size` bytes for a new plan's fixed texts. What the last call returned is
   * overwritten: only the plan built last uses them.
   */
  fixed(size: number): Buffer {
    if (!fits(this.#fixed.length, size)) this.#fixed = Buffer.allocUnsafeSlow(withRoomToSpare(size));
    return this.#fixed;
  }

  /**
   * At least `size` bytes to render into, their contents undefined; never a slice of Node's
   * buffer pool, which would keep the whole pool slab alive with it.
   */
  output(size: number): Buffer {
    if (!fits(this.#output.length, size)) this.#output = Buffer.allocUnsafeSlow(withRoomToSpare(size));
    return this.#output;
  }

  /** The output buffer with room for `needed` bytes after `used`, the first `used` kept. */
  grownOutput(used: number, needed: number): Buffer {
    if (used + needed <= this.#output.length) return this.#output;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.#output.length, used + needed));
    this.#output.copy(grown, 0, 0, used);
    this.#output = grown;
    return grown;
  }
}

/** A size for a new buffer of `size` bytes: an eighth more, for the next plans' few more series. */
function withRoomToSpare(size: number): number {
  return size + Math.ceil(size / 8);
}

/** Whether a kept buffer of `length` bytes serves for `size`: large enough, not four times too large. */
function fits(length: number, size: number): boolean {
  return size <= length && length <= 4 * size;
}

/**
 * A plan's rendering written as UTF-8 bytes into one buffer kept from scrape to scrape: the
 * fixed text before each value (metadata lines, `name{labels} `) is encoded once per plan, and
 * a scrape copies those bytes and writes only the values. The bytes are those of
 * `renderPlanned`'s text (kit/prometheus/exposition.ts), but no exposition-sized string is
 * built: nothing that size is left for the garbage collector or, alive during a scavenge,
 * promoted to the old generation. It costs the fixed bytes and the buffer, each about the
 * exposition's size, held in {@link PlanBuffers} that the next plan reuses. Justified by `npm run build && node
 * bench/agent.bench.ts --only scrape200,scrape1000` (docs/performance.md, node agent).
 */
export class PlannedBytes {
  readonly #plan: ExpositionPlan;
  /**
   * The fixed text of every sample, one after the other: sample `i`'s (the text before it and
   * its `name{labels} `) ends at `#ends[i]` and starts where sample `i - 1`'s ends. Offsets
   * rather than a view per sample: a new plan comes with almost every scrape in the default
   * configuration, and 1,300 views were 1,300 objects for the garbage collector each time.
   */
  readonly #fixed: Buffer;
  readonly #ends: Uint32Array;
  readonly #tail: Uint8Array;
  readonly #buffers: PlanBuffers;

  /** `buffers`: where to write; a plan built later with the same ones overwrites this one's. */
  constructor(plan: ExpositionPlan, buffers: PlanBuffers = new PlanBuffers()) {
    this.#plan = plan;
    const { before, samples } = plan;
    let fixedSize = 0;
    for (let i = 0; i < samples.length; i += 1) fixedSize += fixedByteLength(before[i] ?? '', samples[i]);
    const fixed = buffers.fixed(fixedSize);
    this.#ends = new Uint32Array(samples.length);
    let at = 0;
    for (let i = 0; i < samples.length; i += 1) {
      at = writeFixed(fixed, at, before[i] ?? '', samples[i]);
      this.#ends[i] = at;
    }
    this.#fixed = fixed;
    this.#tail = new TextEncoder().encode(plan.tail);
    this.#buffers = buffers;
    buffers.output(fixedSize + this.#tail.length + VALUE_BYTES * samples.length);
  }

  /**
   * The exposition with the current points of the plan's samples (`points[i]` holds sample
   * `i`'s): a view of the output buffer, valid until the next call on a plan sharing it. Undefined when a point no longer
   * holds a number.
   */
  render(
    points: readonly { readonly point: DataPoint<number> | DataPoint<Histogram> }[],
  ): Uint8Array | undefined {
    const samples = this.#plan.samples;
    let at = 0;
    let start = 0;
    for (let i = 0; i < samples.length; i += 1) {
      const sample = samples[i];
      const end = this.#ends[i] ?? start;
      const point = points[i]?.point;
      if (sample === undefined || point === undefined || typeof point.value !== 'number') return undefined;
      const value = plannedValueText(this.#plan, sample, point as DataPoint<number>);
      // A UTF-16 unit takes at most 3 bytes in UTF-8.
      const buffer = this.#buffers.grownOutput(at, end - start + 3 * value.length + 1);
      at += this.#fixed.copy(buffer, at, start, end);
      start = end;
      at += buffer.write(value, at, 'utf8');
      buffer[at] = LINE_FEED;
      at += 1;
    }
    const buffer = this.#buffers.grownOutput(at, this.#tail.length);
    buffer.set(this.#tail, at);
    return buffer.subarray(0, at + this.#tail.length);
  }
}

/** The UTF-8 length of a sample's fixed text: what comes before it, then `name{labels} `. */
function fixedByteLength(before: string, sample: PlannedSample | undefined): number {
  if (sample === undefined) return 0;
  const labels = sample.labels === '' ? 0 : Buffer.byteLength(sample.labels) + 2;
  return Buffer.byteLength(before) + Buffer.byteLength(sample.name) + labels + 1;
}

/**
 * Writes a sample's fixed text into `buffer` at `at`, as {@link samplePrefix} spells it after
 * `before`, without building that text; returns where it ends.
 */
function writeFixed(buffer: Buffer, at: number, before: string, sample: PlannedSample | undefined): number {
  if (sample === undefined) return at;
  let end = at + buffer.write(before, at, 'utf8');
  end += buffer.write(sample.name, end, 'utf8');
  if (sample.labels !== '') {
    end += buffer.write('{', end, 'latin1');
    end += buffer.write(sample.labels, end, 'utf8');
    end += buffer.write('} ', end, 'latin1');
  } else {
    end += buffer.write(' ', end, 'latin1');
  }
  return end;
}
