import type { ReceiverFactory } from '../../kit/component.ts';
import type { KwollectConfig } from './config.ts';
import { configSchema } from './config.ts';
import { KwollectReceiver } from './receiver.ts';

/** kwollect compatibility: a site's metrics.d files run on the snmp, ipmi and prometheus receivers. */
export const kwollectFactory: ReceiverFactory<KwollectConfig> = {
  kind: 'receiver',
  type: 'kwollect',
  stability: 'alpha',
  description:
    "Reads kwollect's metrics.d files and kwollector settings as they are (snmp://, ipmisensor://, prometheus:// URLs, update_every, scale_factor, labels, kwollect_custom) and runs them on the snmp, ipmi and prometheus receivers; optional metrics follow kwollect's promoted_metrics table.",
  configSchema,
  create(settings, config) {
    return new KwollectReceiver(settings, config);
  },
};
