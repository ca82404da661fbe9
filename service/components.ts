import type { Factory } from './component.ts';
import { registerFactory } from './component.ts';

/**
 * Every component inframeter knows, listed explicitly. Adding a component is adding its
 * folder and one line here.
 */
export const factories: readonly Factory[] = [];

export { registerFactory };
