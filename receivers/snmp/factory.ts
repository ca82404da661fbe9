import type { ReceiverFactory } from '../../kit/component.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import { createNetSnmpClient } from './client.ts';
import { configSchema } from './config.ts';
import type { SnmpConfig } from './config.ts';
import { snmpMetadata } from './metadata.ts';
import { SnmpScraper } from './scraper.ts';

/** The `snmp` receiver: polls many SNMP agents (v1, v2c, v3) through shared credentials and profiles. */
export const snmpFactory: ReceiverFactory<SnmpConfig> = {
  kind: 'receiver',
  type: snmpMetadata.type,
  stability: snmpMetadata.stability,
  description:
    'Polls SNMP v1/v2c/v3 agents (switches, PDUs, any device with a MIB) for scalars and tables through built-in profiles (IF-MIB, APC rPDU2, Raritan PX) or your own, with counters made cumulative across wraps.',
  configSchema,
  create(settings, config) {
    return createScraperReceiver(
      settings,
      config,
      new SnmpScraper({ config, client: createNetSnmpClient() }),
    );
  },
};
