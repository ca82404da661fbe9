import { z } from 'zod';
import { duration, scraperOptions } from '../../kit/config-types.ts';
import { enabledMetricNames, metricSwitchesSchema } from '../../kit/metric-switches.ts';
import { libvirtMetadata } from './metadata.ts';

export const configSchema = z
  .strictObject({
    /** libvirt connection URIs, read-only: `qemu:///system`, `qemu+tcp://host/system`, `qemu+ssh://…`, `qemu+tls://…`. */
    uris: z.array(z.string().min(1)).min(1).default(['qemu:///system']),
    /** First and longest wait before reconnecting to a hypervisor that went away. */
    reconnect_delay: duration().prefault('1s'),
    max_reconnect_delay: duration().prefault('60s'),
    /** A switch per metric: `inframeter.libvirt.host.memory: { enabled: false }`. */
    metrics: metricSwitchesSchema(libvirtMetadata.metrics.map((m) => m.name)),
    ...scraperOptions,
  })
  .transform(({ metrics, ...rest }) => ({
    ...rest,
    metrics: enabledMetricNames(libvirtMetadata.metrics, metrics),
  }));

export interface LibvirtConfig {
  uris: string[];
  reconnect_delay: number;
  max_reconnect_delay: number;
  /** The metrics to emit. */
  metrics: ReadonlySet<string>;
  collection_interval: number;
  initial_delay: number;
  timeout?: number | undefined;
}
