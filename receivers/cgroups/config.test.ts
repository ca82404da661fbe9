import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { takeConfigWarnings } from '../../kit/config-warnings.ts';
import { parseYaml, zodProblems } from '../../service/config.ts';
import { configSchema } from './config.ts';
import { metadata } from './metadata.ts';

const dir = join(import.meta.dirname, 'testdata', 'config');

/** The `receivers.cgroups` map of a test config file, parsed by the receiver's schema. */
function parseFile(file: string): ReturnType<typeof configSchema.safeParse> {
  return parseWithWarnings(file).result;
}

function parseWithWarnings(file: string): {
  result: ReturnType<typeof configSchema.safeParse>;
  warnings: string[];
} {
  const { value, problems } = parseYaml(readFileSync(join(dir, file), 'utf8'), file);
  expect(problems).toEqual([]);
  const raw = (value as { receivers: { cgroups: unknown } }).receivers.cgroups;
  const result = configSchema.safeParse(raw);
  return { result, warnings: takeConfigWarnings(raw).map((w) => `${w.path.join('.')}: ${w.message}`) };
}

/** The catalogue's metric names, by group and default. */
function names(filter: (m: (typeof metadata.metrics)[number]) => boolean): string[] {
  return metadata.metrics
    .filter(filter)
    .map((m) => m.name)
    .sort();
}

function problemsOf(file: string): string[] {
  const result = parseFile(file);
  if (result.success) throw new Error(`${file} was accepted`);
  return zodProblems(result.error, ['receivers', 'cgroups']);
}

describe('cgroups config', () => {
  it('fills defaults from an empty map', () => {
    const config = configSchema.parse({});
    expect(config).toMatchObject({
      collection_interval: 10_000,
      initial_delay: 0,
      root_path: '/',
      layout: 'auto',
      max_depth: 10,
      max_cgroups: 1000,
      runtimes: [],
      kinds: [],
      kubernetes: { enabled: false, auth_type: 'service_account' },
    });
    expect(config.include.map((g) => g.glob)).toEqual(['/**']);
    expect(config.exclude).toEqual([]);
    expect([...config.metrics].sort()).toEqual(names((m) => m.enabled));
  });

  it('accepts a full configuration', () => {
    const result = parseFile('good-full.yaml');
    expect(result.success).toBe(true);
    if (!result.success) return;
    expect(result.data.collection_interval).toBe(15_000);
    expect(result.data.include.map((g) => g.glob)).toEqual(['/kubepods.slice/**', '/system.slice/*.service']);
    expect(result.data.include[1]?.regex.test('/system.slice/sshd.service')).toBe(true);
    // A metric's own switch wins over its group's.
    expect([...result.data.metrics].sort()).toEqual(
      names(
        (m) =>
          m.name === 'inframeter.cgroups.pressure.stall.time' ||
          (m.name !== 'inframeter.cgroups.memory.lru' &&
            m.group !== 'pressure' &&
            (m.group === 'network' || m.enabled)),
      ),
    );
    expect(result.data.kubernetes).toEqual({
      enabled: true,
      node_name: 'node-1',
      auth_type: 'service_account',
    });
  });

  it('reads the old boolean group switches under metrics: as groups:, with a warning for each', () => {
    const { result, warnings } = parseWithWarnings('old-metrics-groups.yaml');
    expect(result.success).toBe(true);
    if (!result.success) return;
    const current = configSchema.parse({
      groups: { pressure: { enabled: false }, network: { enabled: true } },
    });
    expect([...result.data.metrics].sort()).toEqual([...current.metrics].sort());
    expect([...current.metrics].sort()).toEqual(
      names((m) => m.group !== 'pressure' && (m.group === 'network' || m.enabled)),
    );
    expect(warnings).toEqual([
      'metrics.pressure: deprecated: "metrics: { pressure: false }" is still read in this release and will be rejected in the next one; write "groups: { pressure: { enabled: false } }"',
      'metrics.network: deprecated: "metrics: { network: true }" is still read in this release and will be rejected in the next one; write "groups: { network: { enabled: true } }"',
    ]);
  });

  it.each([
    [
      'bad-unknown-keys.yaml',
      [
        'receivers.cgroups.max_dept: unknown key (a typo? see `inframeter components`)',
        `receivers.cgroups.metrics.inframeter.cgroups.gpu.time: unknown metric "inframeter.cgroups.gpu.time"; known metrics: ${metadata.metrics.map((m) => m.name).join(', ')}`,
        'receivers.cgroups.groups.gpu: unknown metric group "gpu"; known groups: cpu, memory, disk, pids, pressure, network, cgroups',
        'receivers.cgroups.kubernetes.node: unknown key (a typo? see `inframeter components`)',
      ],
    ],
    [
      'bad-values.yaml',
      [
        'receivers.cgroups.root_path: must be an absolute path',
        'receivers.cgroups.layout: Invalid option: expected one of "auto"|"v1"|"v2"|"hybrid"',
        'receivers.cgroups.max_depth: Too small: expected number to be >=0',
        'receivers.cgroups.max_cgroups: Too small: expected number to be >=1',
        'receivers.cgroups.runtimes[0]: Invalid option: expected one of "docker"|"containerd"|"cri-o"|"podman"',
        'receivers.cgroups.kinds[0]: Invalid option: expected one of "root"|"kubepods"|"qos"|"pod"|"container"|"job"|"step"|"task"|"slice"|"service"|"scope"|"other"',
      ],
    ],
    [
      'bad-glob.yaml',
      [
        'receivers.cgroups.include[0]: expected a cgroup path glob starting with "/", got "kubepods.slice/**"',
        'receivers.cgroups.exclude[0]: Invalid input: expected string, received number',
      ],
    ],
    [
      'bad-kubernetes.yaml',
      [
        'receivers.cgroups.kubernetes.node_name: required when kubernetes.enabled is true (set it from the downward API: "${env:K8S_NODE_NAME}")',
        'receivers.cgroups.kubernetes.kubeconfig: required when auth_type is kubeconfig',
      ],
    ],
    ['bad-timeout.yaml', ['receivers.cgroups.timeout: must be shorter than collection_interval']],
  ])('%s reports every problem with its path', (file, expected) => {
    expect(problemsOf(file).sort()).toEqual([...expected].sort());
  });
});
