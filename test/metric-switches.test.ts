import { describe, expect, it } from 'vitest';
import type { ReceiverMetadata } from '../kit/metadata.ts';
import { ConfigError } from '../kit/errors.ts';
import { cgroupsFactory } from '../receivers/cgroups/index.ts';
import { ipmiFactory } from '../receivers/ipmi/index.ts';
import { kubevirtFactory } from '../receivers/kubevirt/index.ts';
import { libvirtFactory } from '../receivers/libvirt/index.ts';
import { processFactory } from '../receivers/process/index.ts';
import { procfsFactory } from '../receivers/procfs/index.ts';
import { snmpFactory } from '../receivers/snmp/index.ts';
import { wattmetreFactory } from '../receivers/wattmetre/index.ts';
import { metadata as cgroupsMetadata } from '../receivers/cgroups/metadata.ts';
import { ipmiMetadata } from '../receivers/ipmi/metadata.ts';
import { metadata as kubevirtMetadata } from '../receivers/kubevirt/metadata.ts';
import { libvirtMetadata } from '../receivers/libvirt/metadata.ts';
import { processMetadata } from '../receivers/process/metadata.ts';
import { procfsMetadata } from '../receivers/procfs/metadata.ts';
import { wattmetreMetadata } from '../receivers/wattmetre/metadata.ts';
import { createRegistry, loadConfigText } from '../service/config.ts';
import { createTestFactories, createTestStore } from './support/test-components.ts';

/**
 * Every receiver with a metric catalogue takes `metrics: { <name>: { enabled } }`: a switch
 * turns its metric off (or on), the others keep their catalogue default, and an unknown name
 * is an error at its YAML path listing the known names.
 */
const registry = createRegistry([
  procfsFactory,
  cgroupsFactory,
  processFactory,
  ipmiFactory,
  libvirtFactory,
  kubevirtFactory,
  wattmetreFactory,
  snmpFactory,
  ...createTestFactories(createTestStore()),
]);

const CASES: readonly [type: string, settings: string, catalogue: ReceiverMetadata][] = [
  ['procfs', '', procfsMetadata],
  ['cgroups', '', cgroupsMetadata],
  ['process', '', processMetadata],
  ['ipmi', 'targets: [{}]', ipmiMetadata],
  ['libvirt', '', libvirtMetadata],
  ['kubevirt', 'node_name: node-1', kubevirtMetadata],
  ['wattmetre', 'source: { stdin: true }\nwattmetre_id: w1', wattmetreMetadata],
];

function load(type: string, settings: string): { metrics: ReadonlySet<string> } {
  const text = [
    'receivers:',
    `  ${type}:`,
    ...settings.split('\n').map((line) => `    ${line}`),
    'exporters:',
    '  memory: {}',
    'service:',
    '  pipelines:',
    `    metrics: { receivers: [${type}], exporters: [memory] }`,
  ].join('\n');
  return loadConfigText(text, 'test.yaml', registry, {}).receivers.get(type)?.config as {
    metrics: ReadonlySet<string>;
  };
}

function problems(type: string, settings: string): readonly string[] {
  try {
    load(type, settings);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`${type}: accepted`);
}

describe.each(CASES)('%s metrics:', (type, settings, catalogue) => {
  const names = catalogue.metrics.map((m) => m.name);
  const defaults = catalogue.metrics.filter((m) => m.enabled).map((m) => m.name);

  it('emits the catalogue defaults without switches', () => {
    expect([...load(type, settings).metrics].sort()).toEqual([...defaults].sort());
  });

  it('switches one metric off, and leaves the others at their default', () => {
    const [first, last] = [names[0] ?? '', names.at(-1) ?? ''];
    const config = load(
      type,
      [settings, 'metrics:', `  ${first}: { enabled: false }`, `  ${last}: { enabled: true }`].join('\n'),
    );
    const expected = defaults.filter((n) => n !== first);
    if (last !== first && !expected.includes(last)) expected.push(last);
    expect([...config.metrics].sort()).toEqual(expected.sort());
  });

  it('rejects an unknown metric name at its path, with the known names', () => {
    expect(problems(type, [settings, 'metrics:', '  no.such.metric: { enabled: false }'].join('\n'))).toEqual(
      [
        `receivers.${type}.metrics.no.such.metric: unknown metric "no.such.metric"; known metrics: ${names.join(', ')}`,
      ],
    );
  });
});

describe('snmp metrics:', () => {
  const target =
    'targets: [{ address: 127.0.0.1, auth: { version: v2c, community: public }, profiles: [if_mib] }]';

  it('switches a profile metric off: it is neither read nor registered', () => {
    const config = loadConfigText(
      [
        'receivers:',
        '  snmp:',
        `    ${target}`,
        '    metrics:',
        '      hw.network.io: { enabled: false }',
        'exporters:',
        '  memory: {}',
        'service:',
        '  pipelines:',
        '    metrics: { receivers: [snmp], exporters: [memory] }',
      ].join('\n'),
      'test.yaml',
      registry,
      {},
    ).receivers.get('snmp')?.config as {
      instruments: ReadonlyMap<string, unknown>;
      targets: { profiles: { profile: { tables: { metrics: { name: string }[] }[] } }[] }[];
    };
    expect(config.instruments.has('hw.network.io')).toBe(false);
    expect(config.instruments.has('hw.network.packets')).toBe(true);
    const read = config.targets[0]?.profiles[0]?.profile.tables.flatMap((t) => t.metrics.map((m) => m.name));
    expect(read).not.toContain('hw.network.io');
    expect(read).toContain('hw.network.packets');
  });

  it('rejects a name no profile has, at its path', () => {
    let found: readonly string[] = [];
    try {
      loadConfigText(
        [
          'receivers:',
          '  snmp:',
          `    ${target}`,
          '    metrics:',
          '      hw.gpu.temperature: { enabled: false }',
          'exporters:',
          '  memory: {}',
          'service:',
          '  pipelines:',
          '    metrics: { receivers: [snmp], exporters: [memory] }',
        ].join('\n'),
        'test.yaml',
        registry,
        {},
      );
    } catch (error) {
      if (error instanceof ConfigError) found = error.problems;
    }
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^receivers\.snmp\.metrics\.hw\.gpu\.temperature: unknown metric "hw\.gpu\.temperature"; known metrics: .*hw\.network\.io, /,
    );
  });
});
