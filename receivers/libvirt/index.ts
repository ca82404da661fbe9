export { libvirtFactory } from './factory.ts';
