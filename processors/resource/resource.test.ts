import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { zodProblems } from '../../service/config.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { resourceConfigSchema } from './config.ts';
import type { DetectionSources } from './detect.ts';
import { detect, parseOtelResourceAttributes } from './detect.ts';
import { ResourceProcessor } from './processor.ts';

const sources = (env: Record<string, string>): DetectionSources => ({
  env,
  hostname: () => 'laptop',
  platform: () => 'linux',
  readFile: (path) => {
    if (path === '/host/etc/machine-id') return '4c4c4544004d3610804bb4c04f4e3732\n';
    throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  },
});
const sink = {
  export: () => undefined,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

describe('resource detection', () => {
  it('host, os and the downward API; the node name is the host name in a pod', () => {
    const config = resourceConfigSchema.parse({ root_path: '/host' });
    expect(
      detect(
        config,
        sources({ K8S_NODE_NAME: 'node-3', K8S_POD_NAME: 'inframeter-agent-x', K8S_NAMESPACE: 'monitoring' }),
      ),
    ).toEqual({
      'host.name': 'node-3',
      'host.id': '4c4c4544004d3610804bb4c04f4e3732',
      'os.type': 'linux',
      'k8s.node.name': 'node-3',
      'k8s.pod.name': 'inframeter-agent-x',
      'k8s.namespace.name': 'monitoring',
    });
    expect(detect(resourceConfigSchema.parse({ detectors: ['host'] }), sources({}))).toEqual({
      'host.name': 'laptop',
    });
  });

  it('reads OTEL_RESOURCE_ATTRIBUTES', () => {
    expect(parseOtelResourceAttributes('deployment.environment=prod,team=hpc%20ops')).toEqual({
      'deployment.environment': 'prod',
      team: 'hpc ops',
    });
  });
});

describe('ResourceProcessor', () => {
  const settings = createTestSettings('resource', 'processor');
  it('fills what is missing, keeps what the data says, lets explicit values win and deletes keys', () => {
    const config = resourceConfigSchema.parse({
      root_path: '/host',
      detectors: ['host', 'os'],
      attributes: { 'deployment.environment': 'lab' },
      delete: ['secret'],
    });
    const p = new ResourceProcessor(settings, config, sink, sources({}));
    const out = p.rewrite(resourceFromAttributes({ 'host.name': 'agent-7', secret: 'x' }));
    expect(out.attributes).toEqual({
      'service.instance.id': settings.resource.attributes['service.instance.id'],
      'host.name': 'agent-7',
      'host.id': '4c4c4544004d3610804bb4c04f4e3732',
      'os.type': 'linux',
      'deployment.environment': 'lab',
    });
  });

  it('override replaces the data’s values with detected ones', () => {
    const p = new ResourceProcessor(
      settings,
      resourceConfigSchema.parse({ detectors: ['host'], override: true }),
      sink,
      sources({}),
    );
    expect(p.rewrite(resourceFromAttributes({ 'host.name': 'agent-7' })).attributes['host.name']).toBe(
      'laptop',
    );
  });
});

describe('resource config', () => {
  it.each([
    ['bad-detector.yaml', 'detectors[1]: '],
    ['bad-attribute.yaml', 'attributes.deployment.environment'],
  ])('%s names the key', (file, message) => {
    const raw = parseYaml(
      readFileSync(join(import.meta.dirname, 'testdata', 'config', file), 'utf8'),
    ) as unknown;
    const result = resourceConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (!result.success) expect(zodProblems(result.error, []).join('\n')).toContain(message);
  });
});
