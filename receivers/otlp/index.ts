export { otlpReceiverFactory } from './factory.ts';
