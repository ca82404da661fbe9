export { kubevirtFactory } from './factory.ts';
