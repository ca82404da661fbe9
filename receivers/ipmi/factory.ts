import type { ReceiverFactory } from '../../kit/component.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import type { IpmiConfig } from './config.ts';
import { configSchema } from './config.ts';
import { IpmiScraper } from './scraper.ts';

/** The ipmi receiver: BMC sensors through FreeIPMI, many BMCs at once, hung ones killed. */
export const ipmiFactory: ReceiverFactory<IpmiConfig> = {
  kind: 'receiver',
  type: 'ipmi',
  stability: 'alpha',
  description:
    "BMC sensors (temperature, fans, voltages, power, state) through FreeIPMI's ipmi-sensors, in-band or over LAN, with DCMI power; hung BMCs killed.",
  configSchema,
  create(settings, config) {
    // The scrape's own timeout covers every BMC: a BMC's limit, times the rounds the concurrency makes.
    const rounds = Math.ceil(config.targets.length / config.max_concurrency);
    const timeout =
      config.timeout ??
      Math.max(config.collection_interval, (config.bmc_timeout * (config.dcmi ? 2 : 1) + 1000) * rounds);
    return createScraperReceiver(settings, { ...config, timeout }, new IpmiScraper(config));
  },
};
