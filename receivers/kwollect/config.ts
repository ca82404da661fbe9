import { z } from 'zod';
import type { HostPort } from '../../service/config-types.ts';
import { hostPort } from '../../service/config-types.ts';

export const configSchema = z.strictObject({
  /** kwollect's `metrics.d` directory: every `*.yaml` file in it is read at start. */
  metrics_dir: z.string().min(1),
  /**
   * HTTP endpoint to switch `optional` metrics on and off per device at run time
   * (`PUT /devices/DEVICE/optional` with `on` or `off`; `GET /devices`); off when absent.
   */
  control_endpoint: hostPort().optional(),
  /** Devices whose optional metrics are on at start. */
  optional_on: z.array(z.string().min(1)).default([]),
  /** FreeIPMI workarounds (`-W`) for every `ipmisensor://` BMC, e.g. `[opensesspriv]`. */
  ipmi_workarounds: z.array(z.string().regex(/^[a-z0-9]+$/)).default([]),
});

export interface KwollectConfig {
  metrics_dir: string;
  control_endpoint?: HostPort | undefined;
  optional_on: string[];
  ipmi_workarounds: string[];
}
