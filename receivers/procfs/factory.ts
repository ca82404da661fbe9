import type { ReceiverFactory } from '../../kit/component.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import { createProcfsClient } from './client.ts';
import type { ProcfsConfig } from './config.ts';
import { procfsConfigSchema } from './config.ts';
import { ProcfsScraper } from './scraper.ts';

/** The procfs receiver: host CPU, memory, paging, disks, network and filesystems from /proc. */
export const procfsFactory: ReceiverFactory<ProcfsConfig> = {
  kind: 'receiver',
  type: 'procfs',
  stability: 'beta',
  description:
    'Host CPU, load, memory, paging, disks, network interfaces and filesystems from /proc and statfs.',
  configSchema: procfsConfigSchema,
  create(settings, config) {
    return createScraperReceiver(
      settings,
      config,
      new ProcfsScraper(createProcfsClient(config.root_path), config),
    );
  },
};
