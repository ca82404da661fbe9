import type { ReceiverMetadata } from '../../kit/metadata.ts';

/** The receiver's own metrics; the scraped families pass through with their Prometheus names. */
export const prometheusReceiverMetadata: ReceiverMetadata = {
  type: 'prometheus',
  stability: 'alpha',
  metrics: [
    {
      name: 'up',
      instrument: 'gauge',
      unit: '',
      attributes: [],
      group: 'target',
      enabled: true,
      description: "1 when the last scrape of the target succeeded, 0 otherwise (on the target's resource).",
    },
    {
      name: 'scrape_duration_seconds',
      instrument: 'gauge',
      unit: 's',
      attributes: [],
      group: 'target',
      enabled: true,
      description: 'How long the last scrape of the target took.',
    },
    {
      name: 'scrape_samples_scraped',
      instrument: 'gauge',
      unit: '',
      attributes: [],
      group: 'target',
      enabled: true,
      description: 'Samples the last scrape of the target read.',
    },
  ],
  attributes: {},
};
