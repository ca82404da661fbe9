export { resourceFactory } from './factory.ts';
