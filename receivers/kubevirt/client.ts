import { statSync } from 'node:fs';
import type { CgroupFsClient } from '../cgroups/index.ts';
import { createCgroupFsClient } from '../cgroups/index.ts';
import { errorCode } from '../../kit/errors.ts';
import type { ProcessClient } from '../process/index.ts';
import { createFileProcessClient } from '../process/index.ts';

/**
 * The host side of the kubevirt receiver: `/proc` through the process receiver's client and
 * the cgroup tree through the cgroups receiver's (both from their `index.ts`), and the check
 * that a launcher's libvirt socket is there. (The Kubernetes API is `discovery.ts`; libvirt,
 * the libvirt receiver's `openConnection`.)
 */
export interface KubevirtHostClient {
  readonly process: ProcessClient;
  readonly cgroups: CgroupFsClient;
  /** Whether `path` exists and is a Unix socket; false when it does not exist or cannot be seen. */
  isSocket(path: string): boolean;
}

/** Options of {@link createHostClient}. */
export interface HostClientOptions {
  /** Where the host's root is mounted (`/`, or `/host` in a container). */
  readonly rootPath: string;
  /** Bytes per memory page; detected from the running kernel when omitted. */
  readonly pageSize?: number;
}

/** The client that reads the host's files under `rootPath`. */
export function createHostClient(options: HostClientOptions): KubevirtHostClient {
  return {
    process: createFileProcessClient(
      options.pageSize === undefined
        ? { rootPath: options.rootPath }
        : { rootPath: options.rootPath, pageSize: options.pageSize },
    ),
    cgroups: createCgroupFsClient(),
    isSocket(path) {
      try {
        return statSync(path).isSocket();
      } catch (error) {
        // Missing, or a directory on the way the agent may not enter: not reachable either way.
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return false;
        throw error;
      }
    },
  };
}
