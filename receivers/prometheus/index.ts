export { prometheusReceiverFactory } from './factory.ts';
