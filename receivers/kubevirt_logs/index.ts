export { kubevirtLogsFactory } from './factory.ts';
