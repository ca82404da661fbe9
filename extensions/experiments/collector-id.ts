import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file in the experiments directory that holds the collector's id. */
export const COLLECTOR_ID_FILE = 'collector-id';

const ID_PATTERN = /^[0-9a-f]{16}$/;

/**
 * The collector's own id: 16 random hex digits made the first time the experiments extension
 * starts and kept in its directory, so it survives restarts and differs between collectors
 * even when their host names (and so their `service.instance.id`) are the same. A machine
 * cloned with its experiments directory keeps its twin's id: delete the file on the clone.
 */
export function loadCollectorId(directory: string): string {
  const path = join(directory, COLLECTOR_ID_FILE);
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    if (ID_PATTERN.test(text)) return text;
  }
  const id = randomBytes(8).toString('hex');
  writeFileSync(`${path}.tmp`, `${id}\n`);
  renameSync(`${path}.tmp`, path);
  return id;
}
