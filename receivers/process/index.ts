/**
 * The process receiver's public module: the names another component may use, and the only
 * module of this folder another component may import (its other files are internals that
 * change without notice).
 *
 * - `processFactory`: the receiver, for the service's registry.
 * - `ProcessClient`, `createFileProcessClient`: the reader of `/proc/<pid>` files under a root
 *   path (the host's `/proc` mounted in a container), for a receiver that reads some processes
 *   itself (the kubevirt receiver reads each VM's QEMU process through it).
 */
export { processFactory } from './factory.ts';
export type { ProcessClient } from './client.ts';
export { createFileProcessClient } from './client.ts';
