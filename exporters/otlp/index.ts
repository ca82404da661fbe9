export { otlpExporterFactory } from './factory.ts';
