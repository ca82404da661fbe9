export { procfsFactory } from './factory.ts';
