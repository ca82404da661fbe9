import type { OtherRow, RowBuilder, RowParts, RowSink, RowTime } from './copy-text.ts';

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

/** The typed arrays of {@link HeldRows}: `capacity` rows each. */
interface RowArrays {
  readonly capacity: number;
  readonly values: Float64Array;
  readonly parts: Uint32Array;
  readonly timeIndex: Uint32Array;
}

/**
 * Typed arrays of held batches given back once their batch left the queue, for the next
 * batches, up to {@link HeldArraysPool.MAX_BYTES}. Allocating them afresh for every batch
 * cost more than holding the rows: their memory lives outside V8's heap, a batch queued in a
 * burst survives young collections, and its arrays are then freed only by a full collection,
 * so that every burst added some 8 MB (500,000 rows) of external memory until V8 ran a full
 * collection for it, marking everything the process holds (bench/postgresql.bench.ts: a
 * third of the runs of the memory queue side at 0.8 µs a row and more, 0.3 µs of it on V8's
 * helper threads, against 0.34–0.43 µs otherwise).
 */
export class HeldArraysPool {
  readonly #free: RowArrays[] = [];
  #bytes = 0;

  /** Bytes of arrays kept at most (a burst's worth beyond it is left to the collector). */
  static readonly MAX_BYTES = 32 * 1024 * 1024;

  /** Arrays for at least `capacity` rows (taken from the pool when it holds any that fit). */
  take(capacity: number): RowArrays {
    for (let i = this.#free.length - 1; i >= 0; i -= 1) {
      const arrays = this.#free[i] as RowArrays;
      if (arrays.capacity < capacity) continue;
      this.#free.splice(i, 1);
      this.#bytes -= arrays.capacity * HeldRows.BYTES_PER_ROW;
      return arrays;
    }
    return {
      capacity,
      values: new Float64Array(capacity),
      parts: new Uint32Array(capacity),
      timeIndex: new Uint32Array(capacity),
    };
  }

  give(arrays: RowArrays): void {
    const bytes = arrays.capacity * HeldRows.BYTES_PER_ROW;
    if (this.#bytes + bytes > HeldArraysPool.MAX_BYTES) return;
    this.#free.push(arrays);
    this.#bytes += bytes;
  }
}

/**
 * A batch's rows held while it waits in the memory queue, in a compact form made when it is
 * exported; {@link HeldRows.writeTo} makes its COPY payload (text or binary) at each send, the
 * same rows every time.
 *
 * Per row, in typed arrays (from a {@link HeldArraysPool}): the number of its series' {@link RowParts} in a {@link
 * SeriesTable} (device, metric and labels as bytes, made once per series and shared with
 * every batch), the index of its time among the batch's distinct times (each kept once, in
 * both forms), and its value: 16 bytes a row, outside V8's heap, and no object of its own, so that
 * a queue holding many batches gives the garbage collector nothing to trace or move per row.
 * The batch's point objects (about 144 bytes of heap a point) are released once it is
 * exported. Rows off the common path (histograms, resource labels) are kept as they are
 * ({@link OtherRow}).
 */
export class HeldRows implements RowSink {
  readonly #series: SeriesTable;
  readonly #pool: HeldArraysPool;
  /** The distinct times (see {@link RowSink.pushRow}). */
  readonly #times: RowTime[] = [];
  #lastTime: RowTime | undefined;
  #arrays: RowArrays | undefined;
  #count = 0;
  /** Rows off the common path. */
  readonly #others: OtherRow[] = [];
  #otherBytes = 0;

  /** Bytes a common row takes: its value, its series' number, its time's index. */
  static readonly BYTES_PER_ROW = 16;

  /** `expectedRows`: the batch's points (one row each for gauges and sums). */
  constructor(series: SeriesTable, pool: HeldArraysPool, expectedRows: number) {
    this.#series = series;
    this.#pool = pool;
    this.#arrays = pool.take(Math.max(16, expectedRows));
  }

  get rows(): number {
    return this.#count + this.#others.length;
  }

  pushRow(time: RowTime, parts: RowParts, value: number): void {
    let arrays = this.#live();
    if (this.#count === arrays.capacity) arrays = this.#resize(arrays, this.#count * 2);
    if (time !== this.#lastTime) {
      this.#times.push(time);
      this.#lastTime = time;
    }
    const at = this.#count;
    arrays.values[at] = value;
    arrays.parts[at] = this.#series.numberOf(parts);
    arrays.timeIndex[at] = this.#times.length - 1;
    this.#count = at + 1;
  }

  push(row: OtherRow): void {
    this.#others.push(row);
    // The object and its three strings (the time is shared).
    this.#otherBytes += 64 + row.device.length + row.metric.length + row.labels.length;
  }

  /**
   * Memory this form holds, what the memory queue counts for `max_bytes`: its rows' arrays,
   * its distinct times and its other rows. The series' parts are shared with the exporter's
   * cache and other batches, and not counted.
   */
  get bytes(): number {
    return (
      (this.#arrays?.capacity ?? 0) * HeldRows.BYTES_PER_ROW + this.#times.length * 64 + this.#otherBytes
    );
  }

  /** Writes the rows into `builder` and returns their COPY payload ({@link RowBuilder.take}). */
  writeTo(builder: RowBuilder): Buffer {
    writeCommonRows(builder, this.#live(), this.#count, this.#series, this.#times);
    for (const row of this.#others) builder.push(row);
    return builder.take();
  }

  /** Gives the arrays back to the pool: the batch has left the queue. */
  release(): void {
    if (this.#arrays === undefined) return;
    this.#pool.give(this.#arrays);
    this.#arrays = undefined;
  }

  #live(): RowArrays {
    if (this.#arrays === undefined) throw new Error('held rows used after their release');
    return this.#arrays;
  }

  #resize(arrays: RowArrays, capacity: number): RowArrays {
    const bigger = this.#pool.take(capacity);
    bigger.values.set(arrays.values.subarray(0, this.#count));
    bigger.parts.set(arrays.parts.subarray(0, this.#count));
    bigger.timeIndex.set(arrays.timeIndex.subarray(0, this.#count));
    this.#pool.give(arrays);
    this.#arrays = bigger;
    return bigger;
  }
}

/**
 * The first `count` rows of `arrays` into `builder`, in a function of its own: with the loop in
 * `writeTo`, V8's code optimized in the loop was thrown away after it at every batch
 * (`--trace-deopt`: "insufficient type feedback" on the lines that follow, 50 times a run).
 */
function writeCommonRows(
  builder: RowBuilder,
  arrays: RowArrays,
  count: number,
  series: SeriesTable,
  times: readonly RowTime[],
): void {
  const { values, parts, timeIndex } = arrays;
  for (let i = 0; i < count; i += 1) {
    builder.pushRow(times[timeIndex[i] ?? 0] as RowTime, series.parts(parts[i] ?? 0), values[i] ?? 0);
  }
}
