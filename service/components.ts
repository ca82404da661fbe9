import type { Factory } from '../kit/component.ts';
import type { ExtensionFactory } from '../kit/extension.ts';
import { componentEntries, extensionEntries, loadEntry } from './component-registry.ts';

/**
 * Every component's factory, loaded: for what lists them all (`inframeter components`, the docs
 * generator, the conformance tests). The registry itself is `service/component-registry.ts`;
 * `inframeter run` and `inframeter validate` load only the factories their configuration
 * names, and never import this module.
 */
export const factories: readonly Factory[] = await Promise.all(componentEntries.map(loadEntry));

/** Every extension's factory, loaded (see {@link factories}). */
export const extensionFactories: readonly ExtensionFactory[] = await Promise.all(
  extensionEntries.map(loadEntry),
);
