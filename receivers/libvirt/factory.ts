import type { ReceiverFactory } from '../../kit/component.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import type { LibvirtConfig } from './config.ts';
import { configSchema } from './config.ts';
import { LibvirtScraper } from './scraper.ts';

/** The libvirt receiver: VMs' CPU, memory, disks and network through libvirt's C library. */
export const libvirtFactory: ReceiverFactory<LibvirtConfig> = {
  kind: 'receiver',
  type: 'libvirt',
  stability: 'alpha',
  description:
    "Virtual machines through libvirt's own C library: state, CPU, vCPUs, memory (balloon, RSS), disks, interfaces and the host, from several hypervisors at once.",
  configSchema,
  create(settings, config) {
    return createScraperReceiver(settings, config, new LibvirtScraper(config));
  },
};
