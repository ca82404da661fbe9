import type { ReceiverFactory } from '../../kit/component.ts';
import type { WattmetreConfig } from './config.ts';
import { configSchema } from './config.ts';
import { WattmetreReceiver } from './receiver.ts';

/** The wattmetre receiver: OmegaWatt power meters, every sample with its timestamp. */
export const wattmetreFactory: ReceiverFactory<WattmetreConfig> = {
  kind: 'receiver',
  type: 'wattmetre',
  stability: 'alpha',
  description:
    'OmegaWatt wattmetre power meters from wattmetre-read (command, FIFO, file or stdin): every sample with its timestamp, per-second means per device, energy.',
  configSchema,
  create(settings, config) {
    return new WattmetreReceiver(settings, config);
  },
};
