import { readFileSync } from 'node:fs';
import { hostname, platform } from 'node:os';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { ResourceProcessorConfig } from './config.ts';

/** What detection reads; injectable for tests. */
export interface DetectionSources {
  env: NodeJS.ProcessEnv;
  hostname: () => string;
  platform: () => string;
  readFile: (path: string) => string;
}

export const SYSTEM_SOURCES: DetectionSources = {
  env: process.env,
  hostname,
  platform,
  readFile: (path) => readFileSync(path, 'utf8'),
};

/** `OTEL_RESOURCE_ATTRIBUTES`: `k=v,k2=v2`, values percent-decoded. */
export function parseOtelResourceAttributes(text: string): Attributes {
  const out: Attributes = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return out;
}

/** The attributes the configured detectors find, in the order env < host/os < k8s. */
export function detect(
  config: ResourceProcessorConfig,
  sources: DetectionSources = SYSTEM_SOURCES,
): Attributes {
  const out: Attributes = {};
  const on = new Set(config.detectors);
  const env = sources.env;
  if (on.has('env') && env.OTEL_RESOURCE_ATTRIBUTES !== undefined)
    Object.assign(out, parseOtelResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES));
  if (on.has('host')) {
    out['host.name'] = env.K8S_NODE_NAME ?? sources.hostname();
    for (const file of ['etc/machine-id', 'var/lib/dbus/machine-id']) {
      try {
        const id = sources.readFile(join(config.root_path, file)).trim();
        if (id !== '') {
          out['host.id'] = id;
          break;
        }
      } catch {
        // Not every host has one; the next file, or no host.id.
      }
    }
  }
  if (on.has('os')) out['os.type'] = sources.platform();
  if (on.has('k8s')) {
    const node = env.K8S_NODE_NAME ?? env.NODE_NAME;
    const pod = env.K8S_POD_NAME ?? env.POD_NAME;
    const namespace = env.K8S_NAMESPACE ?? env.POD_NAMESPACE;
    const uid = env.K8S_POD_UID ?? env.POD_UID;
    if (node !== undefined) out['k8s.node.name'] = node;
    if (pod !== undefined) out['k8s.pod.name'] = pod;
    if (namespace !== undefined) out['k8s.namespace.name'] = namespace;
    if (uid !== undefined) out['k8s.pod.uid'] = uid;
  }
  return out;
}
