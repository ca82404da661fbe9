export { experimentsExtensionFactory, ExperimentsExtension } from './factory.ts';
