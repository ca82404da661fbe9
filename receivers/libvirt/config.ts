import { z } from 'zod';
import { duration, scraperOptions } from '../../kit/config-types.ts';

export const configSchema = z.strictObject({
  /** libvirt connection URIs, read-only: `qemu:///system`, `qemu+tcp://host/system`, `qemu+ssh://…`, `qemu+tls://…`. */
  uris: z.array(z.string().min(1)).min(1).default(['qemu:///system']),
  /** First and longest wait before reconnecting to a hypervisor that went away. */
  reconnect_delay: duration().prefault('1s'),
  max_reconnect_delay: duration().prefault('60s'),
  ...scraperOptions,
});

export interface LibvirtConfig {
  uris: string[];
  reconnect_delay: number;
  max_reconnect_delay: number;
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
}
