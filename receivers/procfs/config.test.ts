import { describe, expect, it } from 'vitest';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import type { CollectorConfig } from '../../service/config.ts';
import { createTestFactories, createTestStore } from '../../test/support/test-components.ts';
import type { ProcfsConfig } from './config.ts';
import { procfsFactory } from './factory.ts';
import { procfsMetadata } from './metadata.ts';

const registry = createRegistry([procfsFactory, ...createTestFactories(createTestStore())]);

function load(receiver: string): { config: ProcfsConfig; warnings: CollectorConfig['warnings'] } {
  const text = `receivers:\n  procfs:\n${receiver.replace(/^/gm, '    ')}\nexporters:\n  memory: {}\nservice:\n  pipelines:\n    metrics: { receivers: [procfs], exporters: [memory] }\n`;
  const collector = loadConfigText(text, 'test.yaml', registry, {});
  return {
    config: collector.receivers.get('procfs')?.config as ProcfsConfig,
    warnings: collector.warnings,
  };
}

const all = procfsMetadata.metrics.map((m) => m.name);
const ofGroup = (group: string) => procfsMetadata.metrics.filter((m) => m.group === group).map((m) => m.name);

describe('procfs metric switches', () => {
  it('emits every catalogue metric by default, with no warning', () => {
    const { config, warnings } = load('{}');
    expect([...config.metrics].sort()).toEqual([...all].sort());
    expect(warnings).toEqual([]);
  });

  it('switches one metric off, and one metric of a switched-off group on: the metric wins', () => {
    const { config } = load(
      [
        'metrics:',
        '  system.cpu.utilization: { enabled: false }',
        '  system.disk.io: { enabled: true }',
        'groups:',
        '  disk: { enabled: false, exclude: [loop.*] }',
      ].join('\n'),
    );
    const expected = all.filter(
      (name) =>
        name !== 'system.cpu.utilization' && (!ofGroup('disk').includes(name) || name === 'system.disk.io'),
    );
    expect([...config.metrics].sort()).toEqual([...expected].sort());
    // The disk source is still read for the one metric left on, with the group's filter.
    expect(config.groups.disk.enabled).toBe(true);
    expect(config.groups.disk.exclude.map(String)).toEqual(['/^(?:loop.*)$/']);
    expect(config.groups.cpu.enabled).toBe(true);
  });

  it('reads the old `metrics: { <group>: … }` form as `groups:`, with one warning per key', () => {
    const old = load(
      ['metrics:', '  cpu: { enabled: false }', '  network: { include: [lo, "eth.*"] }'].join('\n'),
    );
    const current = load(
      ['groups:', '  cpu: { enabled: false }', '  network: { include: [lo, "eth.*"] }'].join('\n'),
    );
    expect([...old.config.metrics].sort()).toEqual([...current.config.metrics].sort());
    expect(ofGroup('cpu').some((name) => old.config.metrics.has(name))).toBe(false);
    expect(old.config.groups).toEqual(current.config.groups);
    expect(current.warnings).toEqual([]);
    expect(old.warnings).toEqual([
      'receivers.procfs.metrics.cpu: deprecated: "metrics: { cpu: { enabled: false } }" is still read in this release and will be rejected in the next one; write "groups: { cpu: { enabled: false } }"',
      'receivers.procfs.metrics.network: deprecated: "metrics: { network: { include: [lo, eth.*] } }" is still read in this release and will be rejected in the next one; write "groups: { network: { include: [lo, eth.*] } }"',
    ]);
  });

  it('takes old group keys beside new metric switches', () => {
    const { config, warnings } = load(
      ['metrics:', '  paging: { enabled: false }', '  system.uptime: { enabled: false }'].join('\n'),
    );
    expect([...config.metrics].sort()).toEqual(
      all.filter((name) => name !== 'system.uptime' && !ofGroup('paging').includes(name)).sort(),
    );
    expect(warnings).toHaveLength(1);
  });

  it('rejects a group given both ways, at the old key', () => {
    expect(() =>
      load(['metrics:', '  cpu: { enabled: false }', 'groups:', '  cpu: { enabled: true }'].join('\n')),
    ).toThrow('receivers.procfs.metrics.cpu: also given as groups.cpu: keep only groups.cpu');
  });
});
