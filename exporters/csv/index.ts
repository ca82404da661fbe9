export { csvFactory } from './factory.ts';
