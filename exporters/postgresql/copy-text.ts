/**
 * A batch's COPY text built straight into one growing buffer, row by row, instead of an array
 * of line strings joined and then encoded: joining and encoding 10,000 lines cost as much CPU
 * as making them (bench/postgresql.bench.ts). One builder is reused from batch to batch (a
 * conversion runs synchronously), and {@link take} copies out exactly the bytes written.
 */
export class CopyTextBuilder {
  #buffer: Buffer;
  #length = 0;
  #rows = 0;

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

  /** The text written since the last call, in a buffer of its own; the builder starts over. */
  take(): Buffer {
    // Buffer.copy is a memcpy; Buffer.from(buffer) copied byte by byte (a third of the CPU
    // of a batch in the benchmark's profile).
    const text = Buffer.allocUnsafe(this.#length);
    this.#buffer.copy(text, 0, 0, this.#length);
    this.#length = 0;
    this.#rows = 0;
    return text;
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
