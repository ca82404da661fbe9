import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);
let loaded: typeof Grpc | undefined;

/**
 * @grpc/grpc-js, loaded on first use: about 9 MB of memory and 65 modules that a collector
 * sending and receiving no OTLP/gRPC (the default pipeline) never needs.
 */
export function grpc(): typeof Grpc {
  loaded ??= require('@grpc/grpc-js') as typeof Grpc;
  return loaded;
}
