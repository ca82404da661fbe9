export { prometheusExporterFactory } from './factory.ts';
