import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { readPackageVersion } from '../kit/version.ts';

/**
 * The collector's own resource: what every batch it emits is attributed to unless a
 * receiver says otherwise. `host.name` is the machine's name (or `K8S_NODE_NAME` when the
 * downward API sets it, so that agents report the node, not the pod); attributes from
 * `service.telemetry.resource` override the detected ones.
 */
export function createCollectorResource(
  overrides: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv = process.env,
): Resource {
  const nodeName = env.K8S_NODE_NAME;
  const host = nodeName !== undefined && nodeName !== '' ? nodeName : hostname();
  return resourceFromAttributes({
    'host.name': host,
    'os.type': process.platform === 'win32' ? 'windows' : process.platform,
    'service.name': 'inframeter',
    'service.version': readPackageVersion(),
    'service.instance.id': stableInstanceId(host),
    ...overrides,
  });
}

/**
 * A UUID derived from the host name (name-based, RFC 9562 version 5 layout), so that a
 * collector keeps its `service.instance.id` — and Prometheus its `instance` label — across
 * restarts.
 */
export function stableInstanceId(host: string): string {
  const bytes = createHash('sha1').update(`inframeter:${host}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
