export { influxdbExporterFactory } from './factory.ts';
