import { z } from 'zod';

export const DETECTORS = ['host', 'os', 'k8s', 'env'] as const;

export const resourceConfigSchema = z.strictObject({
  /**
   * Where detected values come from: `host` (host.name, host.id from /etc/machine-id),
   * `os` (os.type), `k8s` (downward-API variables), `env` (OTEL_RESOURCE_ATTRIBUTES).
   */
  detectors: z.array(z.enum(DETECTORS)).default([...DETECTORS]),
  /** Root of the host's filesystem, e.g. /host in a container that mounts it. */
  root_path: z.string().min(1).default('/'),
  /**
   * Detected values replace those already on the data. Off by default: a gateway keeps each
   * agent's own host.name.
   */
  override: z.boolean().default(false),
  /** Values set on every resource, always (they win over detection and over the data). */
  attributes: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Attribute keys removed from every resource. */
  delete: z.array(z.string().min(1)).default([]),
});
export type ResourceProcessorConfig = z.infer<typeof resourceConfigSchema>;
