export { processFactory } from './factory.ts';
