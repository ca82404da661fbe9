/**
 * Finding where the last complete CSV record of a file ends, to repair a file whose last
 * write was cut short (a crash, a full disk). Quote-aware: a line feed inside a quoted field
 * does not end a record. Pure: the caller reads the file and feeds it chunk by chunk.
 */

const QUOTE = 0x22;
const LINE_FEED = 0x0a;

/** Where a scan stands after the bytes fed so far. */
export interface RecordScan {
  /** Bytes scanned. */
  readonly offset: number;
  /** Whether the scan is inside a quoted field. */
  readonly inQuotes: boolean;
  /** Byte offset just past the line feed that ends the last complete record (0: none). */
  readonly lastRecordEnd: number;
}

/** The state before the first byte. */
export const RECORD_SCAN_START: RecordScan = { offset: 0, inQuotes: false, lastRecordEnd: 0 };

/**
 * Advances a scan over the next chunk of the file. A doubled quote (`""`) inside a quoted
 * field closes and reopens the quotes, which leaves the state right.
 */
export function scanRecords(scan: RecordScan, chunk: Uint8Array): RecordScan {
  let { inQuotes, lastRecordEnd } = scan;
  let i = 0;
  while (i < chunk.length) {
    const quote = chunk.indexOf(QUOTE, i);
    if (inQuotes) {
      if (quote < 0) break;
      inQuotes = false;
      i = quote + 1;
      continue;
    }
    // Outside quotes every line feed before the next quote ends a record: keep the last one.
    const limit = quote < 0 ? chunk.length - 1 : quote - 1;
    if (limit >= i) {
      const lineFeed = chunk.lastIndexOf(LINE_FEED, limit);
      if (lineFeed >= i) lastRecordEnd = scan.offset + lineFeed + 1;
    }
    if (quote < 0) break;
    inQuotes = true;
    i = quote + 1;
  }
  return { offset: scan.offset + chunk.length, inQuotes, lastRecordEnd };
}
