import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { freePort, missing, poll } from './support/peers.ts';

// The chart rendered as `helm template` renders it: Go's text/template with Sprig and
// Helm's own functions (test/support/helm/render.go), built from Debian's Go packages.
const ROOT = join(import.meta.dirname, '..');
const CHART = join(ROOT, 'helm', 'inframeter');
const EXAMPLES = join(ROOT, 'examples', 'helm');
const MAIN = join(ROOT, 'service', 'main.ts');
const skip = missing('go', 'golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev');

interface Rendered {
  manifests: { source: string; content: string }[];
  notes: string;
}
type Doc = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

let dir = '';
let renderer = '';

function render(values: Record<string, unknown>[] = [], files: string[] = []): Rendered {
  const args = ['-chart', CHART, '-name', 'demo', '-namespace', 'monitoring'];
  for (const f of files) args.push('-values', f);
  values.forEach((v, i) => {
    const path = join(dir, `values-${String(i)}-${String(Date.now())}.yaml`);
    writeFileSync(path, JSON.stringify(v));
    args.push('-values', path);
  });
  const result = spawnSync(renderer, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr.trim());
  return JSON.parse(result.stdout) as Rendered;
}

function documents(rendered: Rendered): Doc[] {
  return rendered.manifests.flatMap((m) =>
    parseAllDocuments(m.content)
      .map((d) => {
        if (d.errors.length > 0) throw new Error(`${m.source}: ${d.errors.map((e) => e.message).join('; ')}`);
        return d.toJS() as Doc | null;
      })
      .filter((d): d is Doc => d !== null),
  );
}

const get = (o: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (x, k) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined),
      o,
    );

/** The fields Kubernetes requires of each kind this chart renders; returns the problems. */
function wellFormed(doc: Doc): string[] {
  const problems: string[] = [];
  const need = (path: string): void => {
    const value = get(doc, path);
    if (value === undefined || value === null || value === '')
      problems.push(`${doc.kind}/${doc.metadata.name}: ${path} missing`);
  };
  need('apiVersion');
  need('kind');
  need('metadata.name');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(doc.metadata.name) || doc.metadata.name.length > 63) {
    problems.push(`${doc.kind}: name ${doc.metadata.name} is not a DNS label`);
  }
  const podSpec = (prefix: string): void => {
    need(`${prefix}.selector.matchLabels`);
    const selector = (get(doc, `${prefix}.selector.matchLabels`) ?? {}) as Record<string, string>;
    const labels = (get(doc, `${prefix}.template.metadata.labels`) ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(selector)) {
      if (labels[k] !== v)
        problems.push(`${doc.kind}/${doc.metadata.name}: selector ${k}=${v} does not match the pod labels`);
    }
    const containers = get(doc, `${prefix}.template.spec.containers`) as
      Record<string, unknown>[] | undefined;
    if (!Array.isArray(containers) || containers.length === 0) problems.push(`${doc.kind}: no containers`);
    const volumes = new Set(
      ((get(doc, `${prefix}.template.spec.volumes`) ?? []) as { name: string }[]).map((v) => v.name),
    );
    for (const c of containers ?? []) {
      if (typeof c.name !== 'string' || typeof c.image !== 'string')
        problems.push(`${doc.kind}: container without name or image`);
      for (const m of (c.volumeMounts ?? []) as { name: string }[]) {
        if (!volumes.has(m.name)) problems.push(`${doc.kind}: volumeMount ${m.name} has no volume`);
      }
    }
  };
  switch (doc.kind) {
    case 'Deployment':
    case 'DaemonSet':
      podSpec('spec');
      break;
    case 'Service':
      for (const p of (get(doc, 'spec.ports') ?? []) as Record<string, unknown>[]) {
        if (typeof p.port !== 'number') problems.push(`Service/${doc.metadata.name}: port without a number`);
      }
      need('spec.selector');
      break;
    case 'ConfigMap':
      need('data');
      break;
    case 'PodDisruptionBudget':
      need('spec.selector.matchLabels');
      break;
    case 'HorizontalPodAutoscaler':
      need('spec.scaleTargetRef.name');
      need('spec.maxReplicas');
      break;
    case 'PersistentVolumeClaim':
      need('spec.accessModes');
      need('spec.resources.requests.storage');
      break;
    case 'ClusterRole':
    case 'Role':
      need('rules');
      break;
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      need('roleRef.name');
      need('subjects');
      break;
    case 'ServiceMonitor':
      need('spec.selector.matchLabels');
      need('spec.endpoints');
      break;
    case 'NetworkPolicy':
      need('spec.podSelector');
      break;
    case 'ServiceAccount':
      break;
    default:
      problems.push(`unexpected kind ${doc.kind}`);
  }
  return problems;
}

/** `inframeter validate` on every config a ConfigMap carries. */
function validateConfigs(docs: Doc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs.filter((d) => d.kind === 'ConfigMap')) {
    const config = (doc.data as Record<string, string>)['config.yaml'];
    if (config === undefined) {
      problems.push(`${doc.metadata.name}: no config.yaml`);
      continue;
    }
    const path = join(dir, `${doc.metadata.name}.yaml`);
    writeFileSync(path, config);
    const result = spawnSync(process.execPath, [MAIN, 'validate', '--config', path], {
      encoding: 'utf8',
      // What the downward API and the chart's Secrets provide in the pod.
      env: {
        ...process.env,
        K8S_NODE_NAME: 'node-1',
        K8S_POD_NAME: 'p',
        K8S_NAMESPACE: 'monitoring',
        OTLP_TOKEN: 't',
        INFRAMETER_TOKEN: 't',
        POSTGRESQL_PASSWORD: 'p',
        INFLUX_PASSWORD: 'p',
        INFLUX_TOKEN: 't',
        REMOTE_WRITE_USERNAME: 'u',
        REMOTE_WRITE_PASSWORD: 'p',
      },
    });
    if (result.status !== 0) problems.push(`${doc.metadata.name}: ${result.stderr.trim()}`);
  }
  return problems;
}

// Most tests render the chart and run `inframeter validate` on each config it carries: a few
// seconds each on a quiet machine, up to 70 s seen for one test on two busy cores.
describe.skipIf(skip)('Helm chart', { timeout: 180_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-helm-'));
    renderer = join(dir, 'render');
    const build = spawnSync(
      'go',
      ['build', '-o', renderer, join(ROOT, 'test', 'support', 'helm', 'render.go')],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          GOPATH: '/usr/share/gocode',
          GO111MODULE: 'off',
          GOCACHE: join(dir, 'gocache'),
        },
      },
    );
    if (build.status !== 0) throw new Error(`building the renderer: ${build.stderr}`);
  }, 300_000);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, string[]][] = [
    ['default values', []],
    ...readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.yaml'))
      .map((f): [string, string[]] => [`examples/helm/${f}`, [join(EXAMPLES, f)]]),
  ];

  it.each(cases)('%s: every document is well-formed and every config validates', (_, files) => {
    const docs = documents(render([], files));
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.flatMap(wellFormed)).toEqual([]);
    expect(validateConfigs(docs)).toEqual([]);
  });

  it('default values: agents, gateway, and what joins them', () => {
    const docs = documents(render());
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds).toEqual([
      'ClusterRole/demo-inframeter-agent',
      'ClusterRoleBinding/demo-inframeter-agent',
      'ConfigMap/demo-inframeter-agent',
      'ConfigMap/demo-inframeter-gateway',
      'DaemonSet/demo-inframeter-agent',
      'Deployment/demo-inframeter-gateway',
      'PodDisruptionBudget/demo-inframeter-gateway',
      'Service/demo-inframeter-agent',
      'Service/demo-inframeter-gateway',
      'ServiceAccount/demo-inframeter-agent',
      'ServiceAccount/demo-inframeter-gateway',
    ]);
    const agent = docs.find((d) => d.kind === 'DaemonSet');
    const container = (get(agent, 'spec.template.spec.containers') as Record<string, unknown>[])[0];
    expect(get(container, 'securityContext.runAsNonRoot')).toBe(true);
    expect(get(container, 'securityContext.readOnlyRootFilesystem')).toBe(true);
    expect(get(container, 'securityContext.capabilities.drop')).toEqual(['ALL']);
    expect(get(agent, 'spec.template.spec.tolerations')).toEqual([{ operator: 'Exists' }]);
    const mounts = (container?.volumeMounts ?? []) as { mountPath: string; readOnly?: boolean }[];
    expect(
      mounts.filter((m) => m.mountPath.startsWith('/host/')).map((m) => [m.mountPath, m.readOnly]),
    ).toEqual([
      ['/host/proc', true],
      ['/host/sys', true],
    ]);
    const agentConfig = parseYaml(
      (
        docs.find((d) => d.metadata.name === 'demo-inframeter-agent' && d.kind === 'ConfigMap')
          ?.data as Record<string, string>
      )['config.yaml'] ?? '',
    ) as Record<string, unknown>;
    expect(get(agentConfig, 'exporters.otlp.endpoint')).toBe(
      'http://demo-inframeter-gateway.monitoring.svc:4317',
    );
    expect(get(agentConfig, 'receivers.procfs.root_path')).toBe('/host');
    // Only the pods and nodes read the cgroups enrichment needs.
    expect(docs.find((d) => d.kind === 'ClusterRole')?.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(
      get(
        docs.find((d) => d.kind === 'Deployment'),
        'spec.replicas',
      ),
    ).toBe(2);
  });

  it('a config change changes the pods checksum, so pods roll', () => {
    const checksum = (r: Rendered): unknown =>
      get(
        documents(r).find((d) => d.kind === 'DaemonSet'),
        'spec.template.metadata.annotations.checksum/config',
      );
    const before = checksum(render());
    const after = checksum(render([{ agent: { collectionInterval: '5s' } }]));
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    expect(after).not.toBe(before);
  });

  it('optional parts: HPA, PVC, ServiceMonitor, NetworkPolicy, process receiver privileges', () => {
    const docs = documents(
      render([
        {
          agent: { receivers: { process: { enabled: true } }, prometheus: { enabled: true } },
          gateway: {
            replicas: 1,
            pdb: { enabled: false },
            persistence: { enabled: true },
            otlpExporter: {
              enabled: true,
              endpoint: 'https://otlp.example.org:4317',
              tokenSecret: 'otlp-token',
            },
          },
          serviceMonitor: { enabled: true },
          networkPolicy: { enabled: true },
          experiments: { enabled: true, tokenSecret: 'experiments-token' },
        },
      ]),
    );
    const kinds = new Set(docs.map((d) => d.kind));
    for (const kind of ['PersistentVolumeClaim', 'ServiceMonitor', 'NetworkPolicy'])
      expect(kinds.has(kind)).toBe(true);
    expect(kinds.has('PodDisruptionBudget')).toBe(false);
    const agent = (
      get(
        docs.find((d) => d.kind === 'DaemonSet'),
        'spec.template.spec.containers',
      ) as Record<string, unknown>[]
    )[0];
    expect(get(agent, 'securityContext.capabilities.add')).toEqual(['SYS_PTRACE', 'DAC_READ_SEARCH']);
    expect(
      ((agent?.env ?? []) as { name: string; valueFrom?: unknown }[]).find(
        (e) => e.name === 'INFRAMETER_TOKEN',
      )?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'experiments-token', key: 'token' },
    });
    const gateway = (
      get(
        docs.find((d) => d.kind === 'Deployment'),
        'spec.template.spec.containers',
      ) as Record<string, unknown>[]
    )[0];
    expect(
      (gateway?.env as { name: string; valueFrom?: unknown }[]).find((e) => e.name === 'OTLP_TOKEN')
        ?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'otlp-token', key: 'token' },
    });
    expect(docs.flatMap(wellFormed)).toEqual([]);
    expect(validateConfigs(docs)).toEqual([]);
    const autoscaled = documents(render([{ gateway: { autoscaling: { enabled: true } } }]));
    expect(
      get(
        autoscaled.find((d) => d.kind === 'HorizontalPodAutoscaler'),
        'spec.maxReplicas',
      ),
    ).toBe(6);
    expect(
      get(
        autoscaled.find((d) => d.kind === 'Deployment'),
        'spec.replicas',
      ),
    ).toBeUndefined();
  });

  it('postgresql exporter: a kwollect database, the password from a Secret, a persistent queue', () => {
    const docs = documents(
      render([
        {
          gateway: {
            prometheus: { enabled: false },
            postgresqlExporter: { enabled: true, host: 'kwollect-db.site', passwordSecret: 'kwollect-db' },
          },
        },
      ]),
    );
    const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-gateway'));
    const config = parseYaml((configMap?.data as Record<string, string>)['config.yaml'] ?? '') as {
      exporters: Record<string, unknown>;
      service: { pipelines: { metrics: { exporters: string[] } } };
    };
    expect(config.exporters.postgresql).toEqual({
      db_host: 'kwollect-db.site',
      db_port: 5432,
      db_name: 'kwdb',
      db_user: 'kwuser',
      db_password: '${env:POSTGRESQL_PASSWORD}',
      create_schema: true,
      sending_queue: { storage: 'file', directory: '/var/lib/inframeter/queue/postgresql' },
    });
    expect(config.service.pipelines.metrics.exporters).toEqual(['postgresql']);
    const gateway = (
      get(
        docs.find((d) => d.kind === 'Deployment'),
        'spec.template.spec.containers',
      ) as Record<string, unknown>[]
    )[0];
    expect(
      (gateway?.env as { name: string; valueFrom?: unknown }[]).find((e) => e.name === 'POSTGRESQL_PASSWORD')
        ?.valueFrom,
    ).toEqual({ secretKeyRef: { name: 'kwollect-db', key: 'password' } });
    expect(docs.flatMap(wellFormed)).toEqual([]);
    expect(validateConfigs(docs)).toEqual([]);
  });

  it('kubevirt receiver: its config, the VMI read rule, the kubelet pod directory and the qemu uid', () => {
    const docs = documents(
      render([{ agent: { receivers: { kubevirt: { enabled: true, namespaces: ['vms'] } } } }]),
    );
    expect(docs.find((d) => d.kind === 'ClusterRole')?.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstances'], verbs: ['get', 'list', 'watch'] },
    ]);
    const config = parseYaml(
      (
        docs.find((d) => d.metadata.name === 'demo-inframeter-agent' && d.kind === 'ConfigMap')
          ?.data as Record<string, string>
      )['config.yaml'] ?? '',
    ) as Record<string, unknown>;
    expect(get(config, 'receivers.kubevirt')).toEqual({
      node_name: '${env:K8S_NODE_NAME}',
      root_path: '/host',
      collection_interval: '5s',
      namespaces: ['vms'],
      libvirt: { enabled: true },
    });
    expect(get(config, 'service.pipelines.metrics.receivers')).toEqual(['procfs', 'cgroups', 'kubevirt']);
    const spec = get(
      docs.find((d) => d.kind === 'DaemonSet'),
      'spec.template.spec',
    ) as { containers: Record<string, unknown>[]; volumes: Record<string, unknown>[] };
    const container = spec.containers[0];
    expect(get(container, 'securityContext.runAsUser')).toBe(107);
    expect(get(container, 'securityContext.runAsGroup')).toBe(107);
    expect(get(container, 'securityContext.runAsNonRoot')).toBe(true);
    expect(get(container, 'securityContext.capabilities.drop')).toEqual(['ALL']);
    expect((container?.volumeMounts as { name: string }[]).find((m) => m.name === 'kubelet-pods')).toEqual({
      name: 'kubelet-pods',
      mountPath: '/host/var/lib/kubelet/pods',
      readOnly: true,
      mountPropagation: 'HostToContainer',
    });
    expect(spec.volumes.find((v) => v.name === 'kubelet-pods')).toEqual({
      name: 'kubelet-pods',
      hostPath: { path: '/var/lib/kubelet/pods', type: 'Directory' },
    });
    expect(validateConfigs(docs)).toEqual([]);

    // Without libvirt statistics: no host mount, the restricted default uid.
    const plain = documents(
      render([{ agent: { receivers: { kubevirt: { enabled: true, libvirt: { enabled: false } } } } }]),
    );
    const agent = get(
      plain.find((d) => d.kind === 'DaemonSet'),
      'spec.template.spec',
    ) as {
      containers: Record<string, unknown>[];
      volumes: { name: string }[];
    };
    expect(get(agent.containers[0], 'securityContext.runAsUser')).toBe(10001);
    expect(agent.volumes.map((v) => v.name)).not.toContain('kubelet-pods');
    expect(
      render([{ agent: { receivers: { kubevirt: { enabled: true, namespaces: ['vms', 'lab'] } } } }]).notes,
    ).toContain('KubeVirt VMs of their node in vms, lab, with libvirt domain statistics');
    // With the process receiver the agent is root already: DAC_OVERRIDE reaches the sockets.
    const rooted = documents(
      render([{ agent: { receivers: { process: { enabled: true }, kubevirt: { enabled: true } } } }]),
    );
    const rootContainer = (
      get(
        rooted.find((d) => d.kind === 'DaemonSet'),
        'spec.template.spec.containers',
      ) as Record<string, unknown>[]
    )[0];
    expect(get(rootContainer, 'securityContext.runAsUser')).toBe(0);
    expect(get(rootContainer, 'securityContext.capabilities.add')).toEqual([
      'SYS_PTRACE',
      'DAC_READ_SEARCH',
      'DAC_OVERRIDE',
    ]);
    // Only kubevirt on, no pod enrichment: the role still reads VMIs and launcher pods.
    const alone = documents(
      render([{ agent: { receivers: { cgroups: { enabled: false }, kubevirt: { enabled: true } } } }]),
    );
    expect(alone.find((d) => d.kind === 'ClusterRole')?.rules).toHaveLength(2);
  });

  it('kubevirt_logs receiver: its config, pods/log only with it, the data volume, a logs pipeline with a backend', () => {
    const files = documents(
      render([
        { agent: { receivers: { kubevirtLogs: { enabled: true, namespaces: ['vms'], maxFiles: 3 } } } },
      ]),
    );
    expect(files.find((d) => d.kind === 'ClusterRole')?.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstances'], verbs: ['get', 'list', 'watch'] },
    ]);
    const configOf = (docs: typeof files): Record<string, unknown> =>
      parseYaml(
        (
          docs.find((d) => d.metadata.name === 'demo-inframeter-agent' && d.kind === 'ConfigMap')
            ?.data as Record<string, string>
        )['config.yaml'] ?? '',
      ) as Record<string, unknown>;
    const config = configOf(files);
    expect(get(config, 'receivers.kubevirt_logs')).toEqual({
      node_name: '${env:K8S_NODE_NAME}',
      directory: '/var/lib/inframeter/vm-logs',
      interval: '1h',
      namespaces: ['vms'],
      virt_handler: { namespace: 'kubevirt' },
      files: { max_file_size: '50MiB', max_files: 3 },
    });
    // Files only: the receiver is in no pipeline, and nothing sends logs anywhere.
    expect(get(config, 'service.pipelines.logs')).toBeUndefined();
    expect(get(config, 'exporters.otlp/logs')).toBeUndefined();
    const spec = get(
      files.find((d) => d.kind === 'DaemonSet'),
      'spec.template.spec',
    ) as { containers: Record<string, unknown>[]; volumes: Record<string, unknown>[] };
    expect(
      (spec.containers[0]?.volumeMounts as { name: string }[]).find((m) => m.name === 'vm-logs'),
    ).toEqual({
      name: 'vm-logs',
      mountPath: '/var/lib/inframeter/vm-logs',
    });
    expect(spec.volumes.find((v) => v.name === 'vm-logs')).toEqual({ name: 'vm-logs', emptyDir: {} });
    expect(validateConfigs(files)).toEqual([]);

    const shipped = documents(
      render([
        {
          agent: {
            receivers: {
              kubevirtLogs: {
                enabled: true,
                hostPath: '/var/lib/inframeter/vm-logs',
                otlpEndpoint: 'http://otel-collector.observability:4317',
              },
            },
          },
        },
      ]),
    );
    const shippedConfig = configOf(shipped);
    expect(get(shippedConfig, 'exporters.otlp/logs')).toEqual({
      endpoint: 'http://otel-collector.observability:4317',
      protocol: 'grpc',
    });
    expect(get(shippedConfig, 'service.pipelines.logs')).toEqual({
      receivers: ['kubevirt_logs'],
      exporters: ['otlp/logs'],
    });
    expect(
      (
        get(
          shipped.find((d) => d.kind === 'DaemonSet'),
          'spec.template.spec.volumes',
        ) as { name: string }[]
      ).find((v) => v.name === 'vm-logs'),
    ).toEqual({
      name: 'vm-logs',
      hostPath: { path: '/var/lib/inframeter/vm-logs', type: 'DirectoryOrCreate' },
    });
    expect(validateConfigs(shipped)).toEqual([]);

    // Off (the default): no pods/log rule, no volume.
    const off = documents(render([{ agent: { receivers: { kubevirt: { enabled: true } } } }]));
    expect(JSON.stringify(off.find((d) => d.kind === 'ClusterRole')?.rules)).not.toContain('pods/log');
    expect(
      (
        get(
          off.find((d) => d.kind === 'DaemonSet'),
          'spec.template.spec.volumes',
        ) as { name: string }[]
      ).map((v) => v.name),
    ).not.toContain('vm-logs');
  });

  it('points the gateway at InfluxDB 1.x or 2.x with credentials from a Secret', () => {
    const gatewayOf = (influxdbExporter: Record<string, unknown>) => {
      const docs = documents(
        render([{ gateway: { influxdbExporter: { enabled: true, ...influxdbExporter } } }]),
      );
      expect(validateConfigs(docs)).toEqual([]);
      const config = parseYaml(
        (
          docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-gateway'))?.data as Record<
            string,
            string
          >
        )['config.yaml'] ?? '',
      ) as {
        exporters: Record<string, unknown>;
        service: { pipelines: { metrics: { exporters: string[] } } };
      };
      const container = (
        get(
          docs.find((d) => d.kind === 'Deployment'),
          'spec.template.spec.containers',
        ) as Record<string, unknown>[]
      )[0];
      const env = (container?.env ?? []) as { name: string; valueFrom?: unknown }[];
      return { config, env };
    };
    const v1 = gatewayOf({
      endpoint: 'http://influxdb.monitoring.svc:8086',
      database: 'puls',
      username: 'puls',
      credentialsSecret: 'influx-credentials',
      schema: 'cs_pulse_sensor',
    });
    expect(v1.config.exporters.influxdb).toEqual({
      endpoint: 'http://influxdb.monitoring.svc:8086',
      api_version: 1,
      database: 'puls',
      username: 'puls',
      password: '${env:INFLUX_PASSWORD}',
      schema: 'cs_pulse_sensor',
      sending_queue: { storage: 'file', directory: '/var/lib/inframeter/queue/influxdb' },
    });
    expect(v1.config.service.pipelines.metrics.exporters).toContain('influxdb');
    expect(v1.env.find((e) => e.name === 'INFLUX_PASSWORD')?.valueFrom).toEqual({
      secretKeyRef: { name: 'influx-credentials', key: 'password' },
    });
    const v2 = gatewayOf({
      endpoint: 'https://influx.example.org',
      apiVersion: 2,
      org: 'acme',
      bucket: 'metrics',
      credentialsSecret: 'influx-token',
    });
    expect(v2.config.exporters.influxdb).toMatchObject({
      api_version: 2,
      org: 'acme',
      bucket: 'metrics',
      token: '${env:INFLUX_TOKEN}',
    });
    expect(v2.env.find((e) => e.name === 'INFLUX_TOKEN')?.valueFrom).toEqual({
      secretKeyRef: { name: 'influx-token', key: 'token' },
    });
  });

  it.each([
    [{ gateway: { replicas: 0 } }, 'gateway.replicas is 0 while agent.exportToGateway'],
    [{ gateway: { enabled: false } }, 'agent.exportToGateway is true but gateway.enabled is false'],
    [{ gateway: { otlpExporter: { enabled: true } } }, 'gateway.otlpExporter.endpoint is required'],
    [{ gateway: { postgresqlExporter: { enabled: true } } }, 'gateway.postgresqlExporter.host is required'],
    [
      { gateway: { influxdbExporter: { enabled: true, endpoint: 'http://i:8086' } } },
      'gateway.influxdbExporter.database is required with apiVersion 1',
    ],
    [
      {
        gateway: {
          influxdbExporter: { enabled: true, endpoint: 'http://i:8086', database: 'd', username: 'u' },
        },
      },
      'gateway.influxdbExporter.credentialsSecret (key password) is required with a username',
    ],
    [
      {
        gateway: {
          outOfBand: {
            snmp: {
              enabled: true,
              config: { targets: [] },
              secretEnv: [{ name: 'SNMP_COMMUNITY', key: 'community' }],
            },
          },
        },
      },
      'secretEnv SNMP_COMMUNITY: secretName (an existing Secret) is required',
    ],
    [{ gateway: { outOfBand: { ipmi: { enabled: true } } } }, 'gateway.outOfBand.ipmi.config is required'],
    [
      { experiments: { enabled: true } },
      'experiments.tokenSecret (an existing Secret with key token) is required',
    ],
    [{ gateway: { persistence: { enabled: true } } }, 'gateway.persistence.enabled needs gateway.replicas=1'],
  ])('values that make no sense fail, naming the value: %j', (values, message) => {
    expect(() => render([values])).toThrow(message);
  });

  describe('what a cluster operator sets', () => {
    const container = (doc: Doc | undefined): Record<string, unknown> =>
      (get(doc, 'spec.template.spec.containers') as Record<string, unknown>[])[0] ?? {};
    const configOf = (docs: Doc[], role: string): Record<string, unknown> =>
      parseYaml(
        (
          docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === `demo-inframeter-${role}`)
            ?.data as Record<string, string>
        )['config.yaml'] ?? '',
      ) as Record<string, unknown>;

    it('extra env, volumes and mounts, pod labels and annotations, priority class, on both roles', () => {
      const extras = (role: string) => ({
        extraEnv: [{ name: 'EXTRA', value: role }],
        extraVolumes: [{ name: `${role}-extra`, emptyDir: {} }],
        extraVolumeMounts: [{ name: `${role}-extra`, mountPath: `/extra/${role}` }],
        podLabels: { team: `${role}-team` },
        podAnnotations: { 'example.org/note': role },
        priorityClassName: `${role}-priority`,
      });
      const docs = documents(render([{ agent: extras('agent'), gateway: extras('gateway') }]));
      for (const [kind, role] of [
        ['DaemonSet', 'agent'],
        ['Deployment', 'gateway'],
      ] as const) {
        const doc = docs.find((d) => d.kind === kind);
        const c = container(doc);
        expect(get(doc, 'spec.template.metadata.labels.team')).toBe(`${role}-team`);
        expect(get(doc, 'spec.template.metadata.annotations')).toMatchObject({ 'example.org/note': role });
        expect(get(doc, 'spec.template.spec.priorityClassName')).toBe(`${role}-priority`);
        expect(c.env).toContainEqual({ name: 'EXTRA', value: role });
        expect(c.volumeMounts).toContainEqual({ name: `${role}-extra`, mountPath: `/extra/${role}` });
        expect(get(doc, 'spec.template.spec.volumes')).toContainEqual({
          name: `${role}-extra`,
          emptyDir: {},
        });
        // The selector stays the chart's own: extra labels never break it.
        expect(Object.keys(get(doc, 'spec.selector.matchLabels') as object)).not.toContain('team');
      }
      expect(docs.flatMap(wellFormed)).toEqual([]);
    });

    it('container network grants hostPID and root with SYS_PTRACE, and nothing without it', () => {
      const plain = documents(render());
      const agent = plain.find((d) => d.kind === 'DaemonSet');
      expect(get(agent, 'spec.template.spec.hostPID')).toBe(false);
      expect(get(agent, 'spec.template.spec.hostNetwork')).toBe(false);
      expect(get(container(agent), 'securityContext.runAsNonRoot')).toBe(true);
      expect(get(container(agent), 'securityContext.capabilities')).toEqual({ drop: ['ALL'] });
      expect(get(configOf(plain, 'agent'), 'receivers.cgroups.groups')).toEqual({
        network: { enabled: false },
      });
      // The node's network counters need neither: procfs reads the host's /proc.
      expect(get(configOf(plain, 'agent'), 'receivers.procfs.root_path')).toBe('/host');

      const docs = documents(render([{ agent: { receivers: { cgroups: { network: true } } } }]));
      const granted = docs.find((d) => d.kind === 'DaemonSet');
      expect(get(granted, 'spec.template.spec.hostPID')).toBe(true);
      expect(get(granted, 'spec.template.spec.hostNetwork')).toBe(false);
      expect(get(container(granted), 'securityContext')).toMatchObject({
        runAsUser: 0,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'], add: ['SYS_PTRACE'] },
      });
      expect(get(configOf(docs, 'agent'), 'receivers.cgroups.groups')).toBeUndefined();
      expect(validateConfigs(docs)).toEqual([]);
    });

    it('the NetworkPolicy never admits every address', () => {
      const peersOf = (docs: Doc[]): unknown[] =>
        (
          (get(
            docs.find((d) => d.kind === 'NetworkPolicy'),
            'spec.ingress',
          ) ?? []) as { from?: unknown[] }[]
        ).map((rule) => rule.from);
      const defaults = documents(render([{ networkPolicy: { enabled: true } }]));
      expect(JSON.stringify(defaults)).not.toContain('0.0.0.0/0');
      for (const from of peersOf(defaults)) expect(Array.isArray(from) && from.length > 0).toBe(true);
      expect(peersOf(defaults)[1]).toEqual([{ namespaceSelector: {} }]);

      expect(() => render([{ networkPolicy: { enabled: true }, agent: { hostNetwork: true } }])).toThrow(
        /networkPolicy.agentNodeCIDRs/,
      );
      const hostNetwork = documents(
        render([
          { networkPolicy: { enabled: true, agentNodeCIDRs: ['10.1.0.0/24'] }, agent: { hostNetwork: true } },
        ]),
      );
      expect(peersOf(hostNetwork)[0]).toContainEqual({ ipBlock: { cidr: '10.1.0.0/24' } });
      expect(JSON.stringify(hostNetwork)).not.toContain('0.0.0.0/0');
      expect(() => render([{ networkPolicy: { enabled: true, metricsFrom: [] } }])).toThrow(/metricsFrom/);
    });

    it('experiment results on a hostPath or an existing claim, one directory per node', () => {
      const volumeOf = (persistence: Record<string, unknown>) => {
        const docs = documents(
          render([{ experiments: { enabled: true, tokenSecret: 'token', persistence } }]),
        );
        const agent = docs.find((d) => d.kind === 'DaemonSet');
        return {
          volume: (get(agent, 'spec.template.spec.volumes') as { name: string }[]).find(
            (v) => v.name === 'experiments',
          ),
          mount: (container(agent).volumeMounts as { name: string }[]).find((m) => m.name === 'experiments'),
        };
      };
      expect(volumeOf({}).volume).toEqual({ name: 'experiments', emptyDir: {} });
      expect(volumeOf({ type: 'hostPath' }).volume).toEqual({
        name: 'experiments',
        hostPath: { path: '/var/lib/inframeter/experiments', type: 'DirectoryOrCreate' },
      });
      const pvc = volumeOf({ type: 'pvc', existingClaim: 'lab-results' });
      expect(pvc.volume).toEqual({
        name: 'experiments',
        persistentVolumeClaim: { claimName: 'lab-results' },
      });
      expect(pvc.mount).toMatchObject({ subPathExpr: '$(K8S_NODE_NAME)' });
      expect(() => volumeOf({ type: 'pvc' })).toThrow(/existingClaim/);
    });

    it('NOTES tell how to reach the experiments API', () => {
      const notes = render([{ experiments: { enabled: true, tokenSecret: 'lab-token' } }]).notes;
      expect(notes).toContain('--k8s-selector "$SEL" -n monitoring --k8s-port 9470');
      expect(notes).toContain("SEL='app.kubernetes.io/instance=demo,app.kubernetes.io/component=agent'");
      expect(notes).toContain('get secret lab-token');
      expect(notes).toContain('lost when an agent pod is replaced');
      expect(notes).toContain('port-forward svc/demo-inframeter-gateway 9470');
      expect(notes).toContain('--proxy 127.0.0.1:9470 --hosts "${HOSTS%,}"');
      expect(render().notes).not.toContain('Experiments');
    });

    it('experiments: the gateway forwards to the agent pods it discovers, with a Role on this namespace’s pods', () => {
      const docs = documents(render([{ experiments: { enabled: true, tokenSecret: 'lab-token' } }]));
      const gatewayConfig = configOf(docs, 'gateway');
      expect(get(gatewayConfig, 'extensions.experiments')).toEqual({
        endpoint: '0.0.0.0:9470',
        bearer_token: '${env:INFRAMETER_TOKEN}',
        directory: '/var/lib/inframeter/experiments',
        proxy_discovery: {
          kubernetes: {
            namespace: 'monitoring',
            label_selector:
              'app.kubernetes.io/name=inframeter,app.kubernetes.io/instance=demo,app.kubernetes.io/component=agent',
            port: 9470,
          },
        },
      });
      expect(get(gatewayConfig, 'service.extensions')).toEqual(['experiments']);
      // The selector is the agent pods' own labels, and none of the gateway's.
      const selector = Object.fromEntries(
        String(get(gatewayConfig, 'extensions.experiments.proxy_discovery.kubernetes.label_selector'))
          .split(',')
          .map((term) => term.split('=')),
      ) as Record<string, string>;
      const labelsOf = (kind: string) =>
        get(
          docs.find((d) => d.kind === kind),
          'spec.template.metadata.labels',
        ) as Record<string, string>;
      expect(labelsOf('DaemonSet')).toMatchObject(selector);
      expect(Object.entries(selector).every(([k, v]) => labelsOf('Deployment')[k] === v)).toBe(false);
      const gateway = container(docs.find((d) => d.kind === 'Deployment'));
      expect(
        (gateway.env as { name: string; valueFrom?: unknown }[]).find((e) => e.name === 'INFRAMETER_TOKEN'),
      ).toEqual({
        name: 'INFRAMETER_TOKEN',
        valueFrom: { secretKeyRef: { name: 'lab-token', key: 'token' } },
      });
      expect(gateway.ports).toContainEqual({ name: 'experiments', containerPort: 9470 });
      expect(
        get(
          docs.find((d) => d.kind === 'Service' && d.metadata.name === 'demo-inframeter-gateway'),
          'spec.ports',
        ),
      ).toContainEqual({ name: 'experiments', port: 9470, targetPort: 'experiments' });
      const role = docs.find((d) => d.kind === 'Role');
      expect(role?.metadata).toMatchObject({ name: 'demo-inframeter-gateway', namespace: 'monitoring' });
      expect(get(role, 'rules')).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      ]);
      const binding = docs.find((d) => d.kind === 'RoleBinding');
      expect(get(binding, 'roleRef')).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'demo-inframeter-gateway',
      });
      expect(get(binding, 'subjects')).toEqual([
        { kind: 'ServiceAccount', name: 'demo-inframeter-gateway', namespace: 'monitoring' },
      ]);
      expect(docs.flatMap(wellFormed)).toEqual([]);
      expect(validateConfigs(docs)).toEqual([]);
      // Without experiments the gateway has no control API and no Role.
      const plain = documents(render());
      expect(get(configOf(plain, 'gateway'), 'extensions')).toBeUndefined();
      expect(plain.some((d) => d.kind === 'Role' || d.kind === 'RoleBinding')).toBe(false);
    });

    it('TLS from a Secret on both sides: the rendered settings connect a real agent to a real gateway', async () => {
      const docs = documents(
        render([
          {
            tls: {
              enabled: true,
              secretName: 'gateway-tls',
              serverName: 'demo-inframeter-gateway.monitoring.svc',
            },
          },
        ]),
      );
      expect(validateConfigs(docs)).toEqual([]);
      for (const [kind, secret] of [
        ['DaemonSet', 'gateway-tls'],
        ['Deployment', 'gateway-tls'],
      ] as const) {
        const doc = docs.find((d) => d.kind === kind);
        expect(get(doc, 'spec.template.spec.volumes')).toContainEqual({
          name: 'tls',
          secret: { secretName: secret },
        });
        expect(container(doc).volumeMounts).toContainEqual({
          name: 'tls',
          mountPath: '/etc/inframeter/tls',
          readOnly: true,
        });
      }
      const gatewayTls = get(configOf(docs, 'gateway'), 'receivers.otlp.protocols.grpc.tls') as Record<
        string,
        string
      >;
      const agentOtlp = get(configOf(docs, 'agent'), 'exporters.otlp') as Record<string, unknown> & {
        tls: Record<string, string>;
      };
      expect(agentOtlp.endpoint).toBe('https://demo-inframeter-gateway.monitoring.svc:4317');
      expect(get(configOf(docs, 'gateway'), 'receivers.otlp.protocols.http.tls')).toEqual(gatewayTls);

      // Certificates as cert-manager would write them into the Secret: a CA, the gateway's
      // certificate for the Service name, an agent's client certificate.
      const certs = mkdtempSync(join(dir, 'tls-'));
      const openssl = (...args: string[]): void => {
        const r = spawnSync('openssl', args, { cwd: certs, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
      };
      openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '2',
        '-subj',
        '/CN=test-ca',
      );
      const leaf = (name: string, ext: string): void => {
        writeFileSync(join(certs, `${name}.ext`), ext);
        openssl(
          'req',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.csr`,
          '-subj',
          `/CN=${name}`,
        );
        openssl(
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${name}.crt`,
          '-days',
          '2',
          '-extfile',
          `${name}.ext`,
        );
      };
      leaf(
        'gateway',
        'subjectAltName=DNS:demo-inframeter-gateway.monitoring.svc\nextendedKeyUsage=serverAuth\n',
      );
      leaf('agent', 'extendedKeyUsage=clientAuth\n');
      // The chart's paths, /etc/inframeter/tls/{tls.crt,tls.key,ca.crt}, in each pod's Secret.
      const mounted = (path: string, role: string): string =>
        join(certs, path.replace('/etc/inframeter/tls/', '').replace('tls.', `${role}.`));
      const gatewayPort = await freePort();
      const promPort = await freePort();
      const serverTls = Object.fromEntries(
        Object.entries(gatewayTls).map(([k, v]) => [k, mounted(v, 'gateway')]),
      );
      const clientTls = Object.fromEntries(
        Object.entries(agentOtlp.tls).map(([k, v]) => [k, k.endsWith('_file') ? mounted(v, 'agent') : v]),
      );
      const write = (name: string, config: unknown): string => {
        const path = join(certs, name);
        writeFileSync(path, JSON.stringify(config));
        return path;
      };
      const gatewayConfig = write('gateway.yaml', {
        receivers: {
          otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${String(gatewayPort)}`, tls: serverTls } } },
        },
        exporters: { prometheus: { endpoint: `127.0.0.1:${String(promPort)}` } },
        service: { pipelines: { metrics: { receivers: ['otlp'], exporters: ['prometheus'] } } },
      });
      const agentConfig = (tls: Record<string, unknown>, name: string) =>
        write(name, {
          receivers: { procfs: { collection_interval: '1s', groups: { disk: { enabled: false } } } },
          processors: { resource: { attributes: { 'host.name': name } } },
          exporters: {
            otlp: {
              endpoint: `https://127.0.0.1:${String(gatewayPort)}`,
              protocol: 'grpc',
              tls,
              retry_on_failure: { initial_interval: '1s', max_interval: '2s' },
            },
          },
          service: {
            pipelines: { metrics: { receivers: ['procfs'], processors: ['resource'], exporters: ['otlp'] } },
          },
        });
      const { ca_file: caFile, server_name_override: serverName } = clientTls;
      const run = (config: string) =>
        spawn(process.execPath, [MAIN, 'run', '--config', config], { cwd: certs, stdio: 'ignore' });
      const children = [
        run(gatewayConfig),
        run(agentConfig(clientTls, 'agent-with-cert')),
        // Without a client certificate the gateway must refuse the agent (mutual TLS).
        run(agentConfig({ ca_file: caFile, server_name_override: serverName }, 'agent-without-cert')),
      ];
      try {
        const text = await poll("the agent's metrics on the gateway", 60_000, async () => {
          const body = await (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`)).text();
          return body.includes('agent-with-cert') && body.includes('system_memory_usage') ? body : undefined;
        });
        expect(text).not.toContain('agent-without-cert');
      } finally {
        for (const child of children) child.kill('SIGKILL');
      }
    }, 240_000);
  });

  it('remote write: the gateway pushes with credentials from a Secret and external labels', () => {
    const docs = documents(
      render([
        {
          gateway: {
            remoteWrite: {
              enabled: true,
              endpoint: 'https://mimir.example.org/api/v1/push',
              credentialsSecret: 'rw-credentials',
              auth: 'basic',
              externalLabels: { cluster: 'lyon' },
            },
          },
        },
      ]),
    );
    const config = parseYaml(
      (
        docs.find((d) => d.kind === 'ConfigMap' && get(d, 'metadata.name') === 'demo-inframeter-gateway')
          ?.data as Record<string, string>
      )['config.yaml']!,
    ) as Record<string, Record<string, unknown>>;
    expect(config.exporters?.prometheusremotewrite).toEqual({
      endpoint: 'https://mimir.example.org/api/v1/push',
      auth: {
        basic_auth: { username: '${env:REMOTE_WRITE_USERNAME}', password: '${env:REMOTE_WRITE_PASSWORD}' },
      },
      external_labels: { cluster: 'lyon' },
      sending_queue: { storage: 'file', directory: '/var/lib/inframeter/queue/prometheusremotewrite' },
    });
    const gateway = (
      get(
        docs.find((d) => d.kind === 'Deployment'),
        'spec.template.spec.containers',
      ) as Record<string, unknown>[]
    )[0];
    const env = (gateway?.env ?? []) as { name: string; valueFrom?: unknown }[];
    expect(env.filter((e) => e.name.startsWith('REMOTE_WRITE_'))).toEqual([
      {
        name: 'REMOTE_WRITE_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'rw-credentials', key: 'password' } },
      },
      {
        name: 'REMOTE_WRITE_USERNAME',
        valueFrom: { secretKeyRef: { name: 'rw-credentials', key: 'username' } },
      },
    ]);
    expect(docs.flatMap(wellFormed)).toEqual([]);
    expect(validateConfigs(docs)).toEqual([]);
    expect(() => render([{ gateway: { remoteWrite: { enabled: true } } }])).toThrow(
      'gateway.remoteWrite.endpoint is required',
    );
  });

  describe('values.schema.json', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const defaults = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;

    it('accepts values.yaml and every example', () => {
      expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
      for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith('.yaml'))) {
        const merged = { ...defaults, ...(parseYaml(readFileSync(join(EXAMPLES, f), 'utf8')) as object) };
        expect(validate(merged), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    });

    it.each([
      [{ gateway: { replicas: -1 } }, '/gateway/replicas', 'must be >= 0'],
      [
        { agent: { receivers: { nosuch: { enabled: true } } } },
        '/agent/receivers',
        'must NOT have additional properties',
      ],
      [{ gateway: { otlp: { grpcPort: 70000 } } }, '/gateway/otlp/grpcPort', 'must be <= 65535'],
      [{ agent: { collectionInterval: 'often' } }, '/agent/collectionInterval', 'must match pattern'],
      [
        { agent: { receivers: { kubevirt: { namespaces: ['VMs'] } } } },
        '/agent/receivers/kubevirt/namespaces/0',
        'must match pattern',
      ],
      [
        { agent: { receivers: { kubevirt: { libvirt: { runAsUser: -1 } } } } },
        '/agent/receivers/kubevirt/libvirt/runAsUser',
        'must be >= 0',
      ],
      [
        {
          gateway: {
            outOfBand: { snmp: { enabled: true, config: {}, secretEnv: [{ name: 'X', key: 'k' }] } },
          },
        },
        '/gateway/outOfBand/snmp/secretEnv/0',
        "must have required property 'secretName'",
      ],
    ])('rejects %j at %s', (overlay, path, message) => {
      const deep = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
        const out = { ...a };
        for (const [k, v] of Object.entries(b)) {
          const current = out[k];
          out[k] =
            v !== null &&
            typeof v === 'object' &&
            !Array.isArray(v) &&
            current !== null &&
            typeof current === 'object'
              ? deep(current as Record<string, unknown>, v as Record<string, unknown>)
              : v;
        }
        return out;
      };
      expect(validate(deep(defaults, overlay))).toBe(false);
      expect(validate.errors?.map((e) => [e.instancePath, e.message?.split(' "')[0]])).toContainEqual([
        path,
        message,
      ]);
    });
  });
});

// The image itself is built and run by test/image-build.test.ts.
describe('container image', () => {
  it("the chart's appVersion is the package version the image is built from", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});
