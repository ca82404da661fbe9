export { ipmiFactory } from './factory.ts';
