import type { CopyTextBuilder, RowParts, RowSink } from './copy-text.ts';

/**
 * The {@link RowParts} that held rows refer to, by number, so that a held row is three
 * numbers. Parts are numbered once per table (the number is kept on them); a table that
 * reaches {@link SeriesTable.MAX} entries is replaced by a new one, never emptied, and the
 * batches made with it keep it while they wait.
 */
export class SeriesTable {
  readonly #parts: RowParts[] = [];

  static readonly MAX = 200_000;

  get full(): boolean {
    return this.#parts.length >= SeriesTable.MAX;
  }

  numberOf(parts: RowParts): number {
    if (parts.numberedIn !== this) {
      parts.numberedIn = this;
      parts.number = this.#parts.push(parts) - 1;
    }
    return parts.number;
  }

  parts(number: number): RowParts {
    return this.#parts[number] as RowParts;
  }
}

/**
 * A batch's rows held while it waits in the memory queue, in a compact form made when it is
 * exported; {@link HeldRows.writeTo} makes its COPY text at each send, the same text every
 * time.
 *
 * Per row, in typed arrays: the number of its series' {@link RowParts} in a {@link
 * SeriesTable} (device, metric and labels as bytes, made once per series and shared with
 * every batch), the index of its time among the batch's distinct times (each kept once, as
 * bytes), and its value: 16 bytes a row, outside V8's heap, and no object of its own, so that
 * a queue holding many batches gives the garbage collector nothing to trace or move per row.
 * The batch's point objects (about 144 bytes of heap a point) are released once it is
 * exported. Rows off the common path (histograms, resource labels) are kept as their line of
 * COPY text.
 */
export class HeldRows implements RowSink {
  readonly #series: SeriesTable;
  /** The distinct times, each as its COPY column (see {@link RowSink.pushRow}). */
  readonly #times: Uint8Array[] = [];
  #lastTime: Uint8Array | undefined;
  #values: Float64Array;
  #parts: Uint32Array;
  #timeIndex: Uint32Array;
  #count = 0;
  /** Rows off the common path, as lines of COPY text. */
  readonly #lines: string[] = [];
  #lineBytes = 0;

  /** Bytes a common row takes: its value, its series' number, its time's index. */
  static readonly BYTES_PER_ROW = 16;

  /** `expectedRows`: the batch's points (one row each for gauges and sums). */
  constructor(series: SeriesTable, expectedRows: number) {
    this.#series = series;
    const capacity = Math.max(16, expectedRows);
    const arrays = HeldRows.#allocate(capacity);
    this.#values = arrays.values;
    this.#parts = arrays.parts;
    this.#timeIndex = arrays.timeIndex;
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
    const at = this.#count;
    this.#values[at] = value;
    this.#parts[at] = this.#series.numberOf(parts);
    this.#timeIndex[at] = this.#times.length - 1;
    this.#count = at + 1;
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
    const series = this.#series;
    const times = this.#times;
    const values = this.#values;
    const parts = this.#parts;
    const timeIndex = this.#timeIndex;
    for (let i = 0; i < this.#count; i += 1) {
      builder.pushRow(times[timeIndex[i] ?? 0] as Uint8Array, series.parts(parts[i] ?? 0), values[i] ?? 0);
    }
    for (const line of this.#lines) builder.push(line);
    return builder.take();
  }

  #resize(capacity: number): void {
    const arrays = HeldRows.#allocate(Math.max(16, capacity));
    arrays.values.set(this.#values.subarray(0, this.#count));
    arrays.parts.set(this.#parts.subarray(0, this.#count));
    arrays.timeIndex.set(this.#timeIndex.subarray(0, this.#count));
    this.#values = arrays.values;
    this.#parts = arrays.parts;
    this.#timeIndex = arrays.timeIndex;
  }

  /**
   * The three arrays of `capacity` rows, each its own allocation: below glibc's mmap threshold
   * (128 KiB) for batches of up to 16,384 rows, they come from the process's heap, where one
   * allocation of all three was mapped afresh each time (its page faults cost as much as
   * writing the rows: bench/postgresql.bench.ts, `--cpu-prof`).
   */
  static #allocate(capacity: number): { values: Float64Array; parts: Uint32Array; timeIndex: Uint32Array } {
    return {
      values: new Float64Array(capacity),
      parts: new Uint32Array(capacity),
      timeIndex: new Uint32Array(capacity),
    };
  }
}
