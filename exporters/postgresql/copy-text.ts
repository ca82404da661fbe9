import { writeDecimal } from './decimal.ts';

/**
 * What every row of one series of one metric shares, made once per series and reused by every
 * batch: `<device>\t<metric>\t` and `\t<labels>\n`, as UTF-8.
 */
export class RowParts {
  /** The series table that last numbered these parts, and their number there (held-rows.ts). */
  numberedIn: object | undefined = undefined;
  number = 0;

  readonly middle: Uint8Array;
  readonly tail: Uint8Array;

  constructor(middle: Uint8Array, tail: Uint8Array) {
    this.middle = middle;
    this.tail = tail;
  }
}

/** Where a conversion puts a batch's rows: COPY text ({@link CopyTextBuilder}) or a held form. */
export interface RowSink {
  /**
   * The common row `<time><middle><value><tail>`: `time` is the time's column and a tab (an
   * array that is the same object for as long as the rows' time does not change, a new one
   * when it does), `value` is finite.
   */
  pushRow(time: Uint8Array, parts: RowParts, value: number): void;
  /** Any other row: a whole line of COPY text ending in `\n`. */
  push(line: string): void;
  /** Rows received so far. */
  readonly rows: number;
}

/**
 * A batch's COPY text built straight into one growing buffer, row by row, instead of an array
 * of line strings joined and then encoded: joining and encoding 10,000 lines cost as much CPU
 * as making them (bench/postgresql.bench.ts). One builder is reused from batch to batch (a
 * conversion runs synchronously).
 *
 * {@link take} hands the buffer itself over when the text fills at least half of it (the
 * builder goes on in a spare one), else copies the text out; {@link recycle} gives a handed
 * over buffer back once the batch is written. Allocating and copying a fresh buffer per
 * batch cost more CPU than the copy itself (page faults, and collections driven by external
 * memory), up to a fifth of the exporter's CPU in the benchmark. A buffer in the queue holds
 * at most twice its text's bytes.
 *
 * The common row ({@link pushRow}) is assembled from bytes made once (per distinct time,
 * per series of a metric) and the value's digits, with no string made per row: building each line as a
 * string and encoding it cost 3–4× as much.
 */
export class CopyTextBuilder implements RowSink {
  #buffer: Buffer;
  #length = 0;
  #rows = 0;
  /** The whole buffer behind each text handed over and not yet recycled. */
  readonly #handedOver = new WeakMap<Uint8Array, Buffer>();
  /** Buffers given back, for the next batches. */
  readonly #spare: Buffer[] = [];

  /** Spare buffers kept at most (one per consumer in flight is enough). */
  static readonly MAX_SPARE = 4;

  constructor(initialBytes = 1 << 20) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Rows written since the last {@link take}. */
  get rows(): number {
    return this.#rows;
  }

  /** Appends one row: a line of COPY text ending in `\n`, written as UTF-8. */
  push(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const most = line.length * 3;
    if (this.#buffer.length - this.#length < most) this.#grow(most);
    this.#length += this.#buffer.write(line, this.#length);
    this.#rows += 1;
  }

  /** Appends the row `<time><middle><value><tail>` (see {@link RowSink.pushRow}). */
  pushRow(time: Uint8Array, parts: RowParts, value: number): void {
    const { middle, tail } = parts;
    // At most 24 bytes for the value.
    const most = time.length + middle.length + 24 + tail.length;
    if (this.#buffer.length - this.#length < most) this.#grow(most);
    const buffer = this.#buffer;
    let at = this.#length;
    buffer.set(time, at);
    at += time.length;
    buffer.set(middle, at);
    at += middle.length;
    const end = writeDecimal(buffer, at, value);
    // String(value) of a finite number is ASCII.
    at = end >= 0 ? end : at + buffer.write(String(value), at, 'latin1');
    buffer.set(tail, at);
    this.#length = at + tail.length;
    this.#rows += 1;
  }

  /** The text written since the last call, in a buffer of its own; the builder starts over. */
  take(): Buffer {
    let text: Buffer;
    if (this.#length * 2 >= this.#buffer.length) {
      text = this.#buffer.subarray(0, this.#length);
      this.#handedOver.set(text, this.#buffer);
      this.#buffer = this.#spare.pop() ?? Buffer.allocUnsafe(this.#buffer.length);
    } else {
      // Buffer.copy is a memcpy; Buffer.from(buffer) copied byte by byte.
      text = Buffer.allocUnsafe(this.#length);
      this.#buffer.copy(text, 0, 0, this.#length);
    }
    this.#length = 0;
    this.#rows = 0;
    return text;
  }

  /**
   * Gives back a text {@link take} returned, when nothing reads it any more (its batch is
   * written: the driver's socket write is done once the database answered). Anything else
   * (a text read from disk, one already given back) is ignored.
   */
  recycle(text: Uint8Array): void {
    const buffer = this.#handedOver.get(text);
    if (buffer === undefined) return;
    this.#handedOver.delete(text);
    if (this.#spare.length < CopyTextBuilder.MAX_SPARE) this.#spare.push(buffer);
  }

  #grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + needed));
    this.#buffer.copy(bigger, 0, 0, this.#length);
    this.#buffer = bigger;
  }
}

/** The lines of COPY text, each with its `\n` (for tests and messages). */
export function copyLines(text: Uint8Array): string[] {
  return Buffer.from(text.buffer, text.byteOffset, text.byteLength)
    .toString('utf8')
    .split(/(?<=\n)/)
    .filter((line) => line !== '');
}
