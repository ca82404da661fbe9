/**
 * The cgroups receiver's public module: the names another component may use, and the only
 * module of this folder another component may import (its other files are internals that
 * change without notice).
 *
 * - `cgroupsFactory`: the receiver, for the service's registry.
 * - `CgroupsScraper`, `cgroupsConfigSchema`, `CgroupStats`: the scraper, its config and what it
 *   reads of one cgroup, for a receiver that reads some cgroups (the kubevirt receiver reads
 *   its launcher pods' cgroups through it, with `kinds: ['pod']`) and publishes them itself;
 *   such a receiver calls `scrape` and reads `snapshot()`, never the scraper's producer.
 * - `CgroupFsClient`, `createCgroupFsClient`: synchronous reads of the cgroup filesystem.
 * - `parseCgroupPath`: what a cgroup path says (the kubelet's pod UID and QoS
 *   class, a container runtime's container ID).
 */
export { cgroupsFactory } from './factory.ts';
export type { CgroupFsClient } from './client.ts';
export { createCgroupFsClient } from './client.ts';
export { configSchema as cgroupsConfigSchema } from './config.ts';
export { parseCgroupPath } from './parse/cgroup-path.ts';
export { CgroupsScraper } from './scraper.ts';
export type { CgroupStats } from './stats.ts';
