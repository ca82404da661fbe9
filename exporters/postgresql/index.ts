export { postgresqlExporterFactory } from './factory.ts';
