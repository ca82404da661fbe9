const NEWLINE = 10;

/** The text of `bytes[start, end)` (ASCII). */
export function textAt(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** The text of the line that starts at `start`, without its newline. */
export function lineAt(bytes: Uint8Array, start: number): string {
  const end = bytes.indexOf(NEWLINE, start);
  return textAt(bytes, start, end === -1 ? bytes.length : end);
}
