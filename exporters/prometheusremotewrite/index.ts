export { prometheusRemoteWriteFactory } from './factory.ts';
