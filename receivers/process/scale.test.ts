import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeOnce } from '../../test/support/settings.ts';
import { createFileProcessClient } from './client.ts';
import { configSchema } from './config.ts';
import { ProcessScraper } from './scraper.ts';
import { createCountingClient } from './testdata/clients.ts';
import { generateProcTree } from './testdata/generate.ts';
import { toGolden } from './testdata/golden.ts';

/**
 * A host with 2,000 processes: the default selection (top 20 by CPU and by memory) reads only
 * stat for all of them, and the other files of the selected ones only.
 */
const PROCESSES = 2000;
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'inframeter-process-scale-'));
  generateProcTree(root, { processes: PROCESSES, seed: 7 });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function createScraper(config: Record<string, unknown>) {
  const counting = createCountingClient(createFileProcessClient({ rootPath: root, pageSize: 4096 }));
  const scraper = new ProcessScraper({
    config: configSchema.parse({ root_path: root, ...config }),
    client: counting.client,
  });
  return { scraper, counts: counting.counts };
}

describe(`process scraper on ${PROCESSES} processes`, () => {
  it('reads stat of every process and the other files of at most 40 with the default selection', async () => {
    const { scraper, counts } = createScraper({});
    const { batch } = await scrapeOnce(scraper, 'process');
    const selected = new Set(
      toGolden(batch)
        .find((m) => m.name === 'process.thread.count')
        ?.points.map((p) => p.attributes['process.pid']),
    );
    expect(selected.size).toBeGreaterThanOrEqual(20);
    expect(selected.size).toBeLessThanOrEqual(40);
    expect(counts.get('stat')).toBe(PROCESSES);
    for (const file of ['status', 'statm', 'io', 'fd', 'exe', 'cmdline'])
      expect(counts.get(file)).toBe(selected.size);
    expect(counts.get('cgroup')).toBeUndefined();

    await scrapeOnce(scraper, 'process');
    expect(counts.get('stat')).toBe(2 * PROCESSES);
    // Executable names and commands are kept: only newly selected processes need them read.
    expect(counts.get('exe')).toBeLessThanOrEqual(2 * selected.size);
    expect(counts.get('cmdline')).toBeLessThanOrEqual(2 * selected.size);
  });

  it('selects by command line over every process, reading each command line once', async () => {
    const { scraper, counts } = createScraper({ include: { command_lines: ['/usr/bin/nginx .*'] } });
    const { batch } = await scrapeOnce(scraper, 'process');
    const names = new Set(
      toGolden(batch)
        .find((m) => m.name === 'process.thread.count')
        ?.points.map((p) => p.attributes['process.executable.name']),
    );
    expect(names).toEqual(new Set(['nginx']));
    await scrapeOnce(scraper, 'process');
    expect(counts.get('cmdline')).toBe(PROCESSES);
  });
});
