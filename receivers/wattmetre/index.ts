export { wattmetreFactory } from './factory.ts';
