/**
 * The libvirt receiver's public module: the names another component may use, and the only
 * module of this folder another component may import (its other files are internals that
 * change without notice).
 *
 * - `libvirtFactory`: the receiver, for the service's registry.
 * - `openConnection`, `LibvirtConnection`, `ConnectionOptions`: a read-only libvirt connection
 *   (libvirt's C library, a thread of the shared connection process) that collects every domain's statistics in
 *   one bulk call, for a receiver that reaches libvirt daemons itself (the kubevirt receiver,
 *   one daemon per launcher pod).
 * - `DomainStats`, `observeDomain`: one domain's statistics, and their observation under this
 *   receiver's metric names, so that a receiver publishing domains publishes the same metrics.
 * - `libvirtMetadata`: this receiver's metric catalogue, for such a receiver's own catalogue.
 */
export { libvirtFactory } from './factory.ts';
export type { ConnectionOptions, LibvirtConnection } from './client.ts';
export { openConnection } from './client.ts';
export { libvirtMetadata } from './metadata.ts';
export type { DomainStats } from './parse/stats.ts';
export { observeDomain } from './scraper.ts';
