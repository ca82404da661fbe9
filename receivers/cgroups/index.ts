export { cgroupsFactory } from './factory.ts';
