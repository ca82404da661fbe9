/**
 * Splits a byte stream's text into lines, holding at most `maxLength` characters of an
 * unfinished line: a line longer than that (a device that never sends a newline, a
 * corrupted stream) is reported once, as soon as it passes the bound (with its length so
 * far), and dropped up to its end instead of growing without bound.
 */
export class LineSplitter {
  readonly #maxLength: number;
  readonly #onLine: (line: string) => void;
  readonly #onOversized: (length: number) => void;
  #rest = '';
  /** Characters of the oversized line being skipped, or -1 when not skipping. */
  #skipped = -1;

  constructor(maxLength: number, onLine: (line: string) => void, onOversized: (length: number) => void) {
    this.#maxLength = maxLength;
    this.#onLine = onLine;
    this.#onOversized = onOversized;
  }

  /** Feeds the next piece of text. */
  push(text: string): void {
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      if (this.#skipped >= 0) {
        // The end of a line already reported and dropped.
        this.#skipped = -1;
      } else {
        const line = stripCr(this.#rest + text.slice(start, end));
        this.#rest = '';
        if (line !== '') this.#onLine(line);
      }
      start = end + 1;
    }
    const tail = text.slice(start);
    if (this.#skipped >= 0) {
      this.#skipped += tail.length;
      return;
    }
    if (this.#rest.length + tail.length > this.#maxLength) {
      this.#skipped = this.#rest.length + tail.length;
      this.#rest = '';
      this.#onOversized(this.#skipped);
      return;
    }
    this.#rest += tail;
  }

  /** The end of the stream: a last line without newline is a line. */
  end(): void {
    if (this.#skipped < 0 && this.#rest !== '') this.#onLine(stripCr(this.#rest));
    this.#rest = '';
    this.#skipped = -1;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
