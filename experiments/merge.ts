import { createReadStream, createWriteStream, renameSync } from 'node:fs';
import { once } from 'node:events';
import { CSV_HEADER } from '../exporters/csv/rows.ts';
import { scanCsv } from './results/reader.ts';

/**
 * Merges inframeter CSV files (one per host) into one: the header once, then every part's
 * rows in order. Each part is checked first (header, field counts, complete last line), so
 * a damaged part fails with its file and line and nothing half-merged is left at `out`.
 * Returns the number of data rows written.
 */
export async function mergeParts(parts: readonly string[], out: string): Promise<number> {
  let rows = 0;
  for (const part of parts) rows += await scanCsv(part, () => undefined);
  const tmp = `${out}.tmp`;
  const output = createWriteStream(tmp);
  output.write(CSV_HEADER);
  for (const part of parts) {
    const input = createReadStream(part, { start: Buffer.byteLength(CSV_HEADER) });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (!output.write(chunk)) await once(output, 'drain');
    }
  }
  output.end();
  await once(output, 'finish');
  renameSync(tmp, out);
  return rows;
}
