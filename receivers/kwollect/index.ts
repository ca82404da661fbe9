export { kwollectFactory } from './factory.ts';
