import type { ReceiverFactory } from '../../kit/component.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';
import { OtlpReceiver } from './receiver.ts';

/** `otlp` receiver: OTLP/gRPC and OTLP/HTTP (protobuf and JSON) export requests into the pipeline. */
export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  stability: metadata.stability,
  description: 'Receives metrics over OTLP/gRPC and OTLP/HTTP (protobuf and JSON), the gateway input.',
  configSchema,
  create(settings, config) {
    return new OtlpReceiver(settings, config);
  },
};
