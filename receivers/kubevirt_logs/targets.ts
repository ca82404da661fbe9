/**
 * The VMs whose logs are collected, as the `kubevirt` receiver's discovery
 * (`receivers/kubevirt/discovery.ts`, watches of the node's VirtualMachineInstances and
 * virt-launcher pods) keeps them. Declared here by shape so that the collector depends only
 * on what it reads.
 */

/** The virt-launcher pod of a VMI. */
export interface LauncherPodRef {
  readonly name: string;
  readonly uid: string;
  /** Container names in `spec.containers` order (`compute` first). */
  readonly containers: readonly string[];
}

/** A VM that runs on this node. */
export interface VmTargetRef {
  readonly namespace: string;
  readonly vmiName: string;
  readonly vmiUid: string;
  readonly vmName?: string | undefined;
  readonly nodeName: string;
  readonly phase: string;
  readonly launcherPod?: LauncherPodRef | undefined;
}

/** A live list of the node's VMs. */
export interface VmTargetSource {
  /** Goes up whenever the list changes. */
  readonly version: number;
  targets(): readonly VmTargetRef[];
  /** Starts discovering; returns at once. */
  start(): void;
  /** Stops; safe to call twice. */
  stop(): Promise<void>;
}
