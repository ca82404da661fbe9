/**
 * The kubevirt receiver's public module: the names another component may use, and the only
 * module of this folder another component may import (its other files are internals that
 * change without notice).
 *
 * - `kubevirtFactory`: the receiver, for the service's registry.
 * - `loadVmDiscovery`: the discovery of this node's VMs (watches of the VirtualMachineInstances
 *   and virt-launcher pods), for a receiver that follows the same VMs (kubevirt_logs). It loads
 *   the Kubernetes client library, so it is loaded on demand, when such a receiver starts.
 */
import type { createVmDiscovery } from './discovery.ts';

export { kubevirtFactory } from './factory.ts';
export type { VmDiscovery, VmDiscoveryOptions } from './discovery.ts';

/** `createVmDiscovery`, loaded with the Kubernetes client library only when called. */
export async function loadVmDiscovery(): Promise<typeof createVmDiscovery> {
  return (await import('./discovery.ts')).createVmDiscovery;
}
