import { writeDecimal } from './decimal.ts';

/**
 * A row's time in both forms COPY takes, made once per distinct time of a batch: the text
 * column with the tab after it (`YYYY-MM-DD HH:MM:SS.ffffff+00\t`, UTF-8) and, for the binary
 * form, the microseconds since 2000-01-01 00:00 UTC as the two halves of an int64.
 */
export class RowTime {
  readonly text: Uint8Array;
  /** The int64's upper 32 bits, signed. */
  readonly high: number;
  /** The int64's lower 32 bits, unsigned. */
  readonly low: number;

  constructor(text: Uint8Array, high: number, low: number) {
    this.text = text;
    this.high = high;
    this.low = low;
  }
}

/** A series' device column in both forms: `<device>\t` (escaped), and its binary field (length, UTF-8). */
export interface DeviceBytes {
  readonly text: Uint8Array;
  readonly binary: Uint8Array;
}

/**
 * What every row of one series of one metric shares, made once per series and reused by every
 * batch: for COPY text `<device>\t<metric>\t` and `\t<labels>\n`; for the binary form the
 * whole row with its time and value left to fill ({@link binaryRow}, see copy-binary.ts).
 */
export class RowParts {
  /** The series table that last numbered these parts, and their number there (held-rows.ts). */
  numberedIn: object | undefined = undefined;
  number = 0;

  readonly middle: Uint8Array;
  readonly tail: Uint8Array;
  /** A binary tuple of the series: field count, time, device, metric, value, labels. */
  readonly binaryRow: Uint8Array;
  /** Where the value's 8 bytes go in {@link binaryRow}. */
  readonly binaryValueAt: number;

  constructor(middle: Uint8Array, tail: Uint8Array, binaryRow: Uint8Array, binaryValueAt: number) {
    this.middle = middle;
    this.tail = tail;
    this.binaryRow = binaryRow;
    this.binaryValueAt = binaryValueAt;
  }
}

/**
 * A row off the common path (histogram rows, rows with resource labels), its fields as they
 * are (not escaped): each builder writes them in its own form.
 */
export interface OtherRow {
  readonly time: RowTime;
  readonly device: string;
  readonly metric: string;
  /** Finite. */
  readonly value: number;
  /** The labels as JSON. */
  readonly labels: string;
}

/** Where a conversion puts a batch's rows: COPY text or binary ({@link RowBuilder}) or a held form. */
export interface RowSink {
  /**
   * The common row: `time` is the same object for as long as the rows' time does not change,
   * a new one when it does; `value` is finite.
   */
  pushRow(time: RowTime, parts: RowParts, value: number): void;
  /** Any other row. */
  push(row: OtherRow): void;
  /** Rows received so far. */
  readonly rows: number;
}

/** A sink that makes a COPY payload: text ({@link CopyTextBuilder}) or binary (copy-binary.ts). */
export interface RowBuilder extends RowSink {
  /** The payload of the rows received since the last call; the builder starts over. */
  take(): Buffer;
  /** Gives back a payload {@link take} returned once it is written (see {@link CopyBuffer}). */
  recycle(payload: Uint8Array): void;
}

/**
 * A batch's COPY payload built straight into one growing buffer, row by row, instead of an
 * array of line strings joined and then encoded: joining and encoding 10,000 lines cost as
 * much CPU as making them (bench/postgresql.bench.ts). One builder is reused from batch to
 * batch (a conversion runs synchronously).
 *
 * {@link take} hands the buffer itself over when the payload fills at least half of it (the
 * builder goes on in a spare one), else copies the payload out; {@link recycle} gives a
 * handed over buffer back once the batch is written. Allocating and copying a fresh buffer per
 * batch cost more CPU than the copy itself (page faults, and collections driven by external
 * memory), up to a fifth of the exporter's CPU in the benchmark. A buffer in the queue holds
 * at most twice its payload's bytes.
 */
export abstract class CopyBuffer {
  protected buffer: Buffer;
  protected length = 0;
  protected count = 0;
  /** The whole buffer behind each payload handed over and not yet recycled. */
  readonly #handedOver = new WeakMap<Uint8Array, Buffer>();
  /** Buffers given back, for the next batches. */
  readonly #spare: Buffer[] = [];

  /** Spare buffers kept at most (one per consumer in flight is enough). */
  static readonly MAX_SPARE = 4;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Rows written since the last {@link take}. */
  get rows(): number {
    return this.count;
  }

  /** The bytes written since the last call, in a buffer of its own; the builder starts over. */
  protected takeBytes(): Buffer {
    let bytes: Buffer;
    if (this.length * 2 >= this.buffer.length) {
      bytes = this.buffer.subarray(0, this.length);
      this.#handedOver.set(bytes, this.buffer);
      this.buffer = this.#spare.pop() ?? Buffer.allocUnsafe(this.buffer.length);
      this.replaced();
    } else {
      // Buffer.copy is a memcpy; Buffer.from(buffer) copied byte by byte.
      bytes = Buffer.allocUnsafe(this.length);
      this.buffer.copy(bytes, 0, 0, this.length);
    }
    this.length = 0;
    this.count = 0;
    return bytes;
  }

  /**
   * Gives back a payload {@link takeBytes} returned, when nothing reads it any more (its batch
   * is written: the driver's socket write is done once the database answered). Anything else
   * (a payload read from disk, one already given back, another builder's) is ignored.
   */
  recycle(payload: Uint8Array): void {
    const buffer = this.#handedOver.get(payload);
    if (buffer === undefined) return;
    this.#handedOver.delete(payload);
    if (this.#spare.length < CopyBuffer.MAX_SPARE) this.#spare.push(buffer);
  }

  /** Makes room for `needed` more bytes. */
  protected grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + needed));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
    this.replaced();
  }

  /** Called when {@link buffer} is another one (a subclass's view of it is to be made again). */
  protected replaced(): void {
    // Nothing to do by default.
  }
}

/**
 * COPY text. The common row ({@link pushRow}) is assembled from bytes made once (per distinct
 * time, per series of a metric) and the value's digits, with no string made per row: building
 * each line as a string and encoding it cost 3–4× as much.
 */
export class CopyTextBuilder extends CopyBuffer implements RowBuilder {
  constructor(initialBytes = 1 << 20) {
    super(initialBytes);
  }

  /** Appends a row off the common path as a line, its fields escaped. */
  push(row: OtherRow): void {
    const rest = `${escapeText(row.device)}\t${escapeText(row.metric)}\t${numberText(row.value)}\t${escapeText(row.labels)}\n`;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const most = row.time.text.length + rest.length * 3;
    if (this.buffer.length - this.length < most) this.grow(most);
    this.buffer.set(row.time.text, this.length);
    this.length += row.time.text.length;
    this.length += this.buffer.write(rest, this.length);
    this.count += 1;
  }

  /** Appends the row `<time><middle><value><tail>` (see {@link RowSink.pushRow}). */
  pushRow(time: RowTime, parts: RowParts, value: number): void {
    const { middle, tail } = parts;
    const timeText = time.text;
    // At most 24 bytes for the value.
    const most = timeText.length + middle.length + 24 + tail.length;
    if (this.buffer.length - this.length < most) this.grow(most);
    const buffer = this.buffer;
    let at = this.length;
    buffer.set(timeText, at);
    at += timeText.length;
    buffer.set(middle, at);
    at += middle.length;
    const end = writeDecimal(buffer, at, value);
    // The text of a finite number is ASCII.
    at = end >= 0 ? end : at + buffer.write(numberText(value), at, 'latin1');
    buffer.set(tail, at);
    this.length = at + tail.length;
    this.count += 1;
  }

  /** The text written since the last call, in a buffer of its own; the builder starts over. */
  take(): Buffer {
    return this.takeBytes();
  }
}

/** A finite number as PostgreSQL's float8 reads it back exactly: `String`, but `-0` for negative zero. */
function numberText(value: number): string {
  return value === 0 && 1 / value < 0 ? '-0' : String(value);
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
export function escapeText(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] ?? c) : text;
}

/** The lines of COPY text, each with its `\n` (for tests and messages). */
export function copyLines(text: Uint8Array): string[] {
  return Buffer.from(text.buffer, text.byteOffset, text.byteLength)
    .toString('utf8')
    .split(/(?<=\n)/)
    .filter((line) => line !== '');
}
