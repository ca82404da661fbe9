import { statSync } from 'node:fs';
import type { ProcfsClient } from '../../receivers/procfs/client.ts';
import { createProcfsClient } from '../../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../../receivers/procfs/config.ts';
import { ProcfsScraper } from '../../receivers/procfs/scraper.ts';
import { runFloor } from './floor.ts';

/**
 * The file reads of one procfs scrape, replayed through the receiver's own client, and the
 * same calls made by the C floor (bench/support/floor.ts).
 */

/**
 * The calls of a steady-state scrape of this host's /proc with the default config, in order:
 * absolute path → `K` (a pseudo-file, held open and read again from offset 0), `F` (a
 * regular file, opened each time) or `S` (statfs of a mount point).
 */
export async function recordProcfsReads(): Promise<Map<string, string>> {
  const inner = createProcfsClient('/');
  let seen = new Map<string, string>();
  const client: ProcfsClient = {
    read(path) {
      const absolute = `/${path}`;
      seen.set(absolute, statSync(absolute).size === 0 ? 'K' : 'F');
      return inner.read(path);
    },
    statfs(mountpoint) {
      seen.set(mountpoint, 'S');
      return inner.statfs(mountpoint);
    },
    close: () => inner.close?.(),
  };
  const scraper = new ProcfsScraper(client, procfsConfigSchema.parse({}));
  await scraper.scrape();
  // The second scrape is the steady state (the mount table known, the net/dev path chosen).
  seen = new Map();
  await scraper.scrape();
  client.close?.();
  return seen;
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU µs per pass of the receiver's client making `calls`, after one warm-up pass. */
export function measureProcfsReads(calls: ReadonlyMap<string, string>, passes: number): number {
  const client = createProcfsClient('/');
  const pass = (): void => {
    for (const [path, kind] of calls) {
      if (kind === 'S') client.statfs(path);
      else client.read(path);
    }
  };
  pass();
  const start = cpuUs();
  for (let i = 0; i < passes; i++) pass();
  const us = (cpuUs() - start) / passes;
  client.close?.();
  return us;
}

/** CPU µs per pass of the C floor making `calls`. */
export function measureProcfsReadsFloor(
  binary: string,
  calls: ReadonlyMap<string, string>,
  passes: number,
  listFile: string,
): number {
  return runFloor(binary, calls, passes, listFile).ms * 1000;
}
