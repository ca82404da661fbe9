export { snmpFactory } from './factory.ts';
