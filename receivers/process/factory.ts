import type { ReceiverFactory } from '../../kit/component.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import { createFileProcessClient } from './client.ts';
import { configSchema } from './config.ts';
import type { ProcessConfig } from './config.ts';
import { processMetadata } from './metadata.ts';
import { ProcessScraper } from './scraper.ts';

/** The `process` receiver: per-process CPU, memory, I/O, threads and file descriptors from /proc. */
export const processFactory: ReceiverFactory<ProcessConfig> = {
  kind: 'receiver',
  type: processMetadata.type,
  stability: processMetadata.stability,
  description:
    'Per-process CPU, memory, I/O, threads, file descriptors and context switches from /proc/<pid>/, for processes selected by name, command line, owner, cgroup, pid file or top N by CPU and memory.',
  configSchema,
  create(settings, config) {
    const client = createFileProcessClient({ rootPath: config.root_path });
    return createScraperReceiver(settings, config, new ProcessScraper({ config, client }));
  },
};
