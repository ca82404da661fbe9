import type { CopyTextBuilder, RowParts, RowSink } from './copy-text.ts';

/**
 * A batch's rows held while it waits in the memory queue, in a compact form made when it is
 * exported; {@link HeldRows.writeTo} makes its COPY text at each send, the same text every
 * time.
 *
 * Per row: a reference to its series' {@link RowParts} (device, metric and labels as bytes,
 * made once per series and shared with every batch and the exporter's cache), the index of
 * its time among the batch's distinct times (each kept once, as bytes), and its value in a
 * typed array: about 20 bytes a row, none of them an object of its own. The batch's point
 * objects (about 144 bytes of V8 heap a point) are released as soon as the batch is
 * exported. Rows off the common path (histograms, resource labels) are kept as their line of
 * COPY text.
 */
export class HeldRows implements RowSink {
  /** The distinct times, each as its COPY column (see {@link RowSink.pushRow}). */
  readonly #times: Uint8Array[] = [];
  #lastTime: Uint8Array | undefined;
  readonly #parts: RowParts[] = [];
  #timeIndex: Uint32Array;
  #values: Float64Array;
  #count = 0;
  /** Rows off the common path, as lines of COPY text. */
  readonly #lines: string[] = [];
  #lineBytes = 0;

  /** Bytes a common row takes: its value, its time index, its reference to the series' parts. */
  static readonly BYTES_PER_ROW = 8 + 4 + 8;

  /** `expectedRows`: the batch's points (one row each for gauges and sums). */
  constructor(expectedRows: number) {
    const capacity = Math.max(16, expectedRows);
    this.#timeIndex = new Uint32Array(capacity);
    this.#values = new Float64Array(capacity);
  }

  get rows(): number {
    return this.#count + this.#lines.length;
  }

  pushRow(time: Uint8Array, parts: RowParts, value: number): void {
    if (this.#count === this.#values.length) this.#resize(this.#count * 2);
    if (time !== this.#lastTime) {
      this.#times.push(time);
      this.#lastTime = time;
    }
    this.#timeIndex[this.#count] = this.#times.length - 1;
    this.#parts.push(parts);
    this.#values[this.#count] = value;
    this.#count += 1;
  }

  push(line: string): void {
    this.#lines.push(line);
    this.#lineBytes += line.length;
  }

  /** Gives back the room of rows that were not made (points left out). */
  trim(): void {
    if (this.#count * 2 < this.#values.length) this.#resize(this.#count);
  }

  /**
   * Memory this form holds, what the memory queue counts for `max_bytes`: its rows, its
   * distinct times and its other lines. The series' parts are shared with the exporter's
   * cache and other batches, and not counted.
   */
  get bytes(): number {
    return (
      this.#values.length * HeldRows.BYTES_PER_ROW +
      this.#times.length * 64 +
      this.#lineBytes +
      this.#lines.length * 16
    );
  }

  /** Writes the rows into `builder` and returns their COPY text ({@link CopyTextBuilder.take}). */
  writeTo(builder: CopyTextBuilder): Buffer {
    const times = this.#times;
    const parts = this.#parts;
    const timeIndex = this.#timeIndex;
    const values = this.#values;
    for (let i = 0; i < this.#count; i += 1) {
      builder.pushRow(times[timeIndex[i] ?? 0] as Uint8Array, parts[i] as RowParts, values[i] ?? 0);
    }
    for (const line of this.#lines) builder.push(line);
    return builder.take();
  }

  #resize(capacity: number): void {
    const timeIndex = new Uint32Array(Math.max(16, capacity));
    timeIndex.set(this.#timeIndex.subarray(0, this.#count));
    this.#timeIndex = timeIndex;
    const values = new Float64Array(Math.max(16, capacity));
    values.set(this.#values.subarray(0, this.#count));
    this.#values = values;
  }
}
