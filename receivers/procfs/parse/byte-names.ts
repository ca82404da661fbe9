/**
 * A fixed set of names found in bytes without making a string of each candidate: a table by
 * length, then a byte-by-byte comparison. Used by the parsers that read a few lines of a long
 * pseudo-file straight from the client's buffer (see parseVmstat).
 */
export class ByteNames {
  readonly #byLength: (readonly [Uint8Array, string])[][] = [];

  constructor(names: Iterable<string>) {
    for (const name of new Set(names)) {
      const bytes = Buffer.from(name, 'latin1');
      (this.#byLength[bytes.length] ??= []).push([bytes, name]);
    }
  }

  /** The name spelled by `bytes[start, end)`, or undefined when it is not one of the set. */
  find(bytes: Uint8Array, start: number, end: number): string | undefined {
    const candidates = this.#byLength[end - start];
    if (candidates === undefined) return undefined;
    next: for (const [spelling, name] of candidates) {
      for (let i = 0; i < spelling.length; i++) if (bytes[start + i] !== spelling[i]) continue next;
      return name;
    }
    return undefined;
  }
}
