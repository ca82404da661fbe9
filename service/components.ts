import type { Factory } from './component.ts';
import { registerFactory } from './component.ts';
import { csvFactory } from '../exporters/csv/index.ts';

/**
 * Every component inframeter knows, listed explicitly. Adding a component is adding its
 * folder and one line here.
 */
export const factories: readonly Factory[] = [
  // exporters
  registerFactory(csvFactory),
];
