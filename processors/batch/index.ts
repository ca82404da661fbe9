export { batchFactory } from './factory.ts';
