import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { readPackageVersion } from './version.ts';

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
  return resourceFromAttributes({
    'host.name': nodeName !== undefined && nodeName !== '' ? nodeName : hostname(),
    'os.type': process.platform === 'win32' ? 'windows' : process.platform,
    'service.name': 'inframeter',
    'service.version': readPackageVersion(),
    'service.instance.id': randomUUID(),
    ...overrides,
  });
}
