export { relabelFactory } from './factory.ts';
