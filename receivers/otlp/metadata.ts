import type { ReceiverMetadata } from '../../kit/metadata.ts';

/**
 * The `otlp` receiver passes on the metrics its clients send; it defines none of its own.
 * Its request counts are part of the collector's self-telemetry.
 */
export const metadata: ReceiverMetadata = {
  type: 'otlp',
  stability: 'beta',
  metrics: [],
  attributes: {},
};
