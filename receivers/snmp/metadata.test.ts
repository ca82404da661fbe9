import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateReadme } from '../../kit/metadata.ts';
import { snmpFactory } from './factory.ts';
import { DEVICE_ATTRIBUTES, snmpMetadata } from './metadata.ts';
import type { TableSpec } from './profile.ts';
import { BUILTIN_PROFILES } from './profiles/builtin.ts';

const readmePath = join(import.meta.dirname, 'README.md');

describe('snmp metadata', () => {
  it('has the metric table of README.md up to date (UPDATE_GOLDEN=1 rewrites it)', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const updated = updateReadme(readme, snmpMetadata);
    if (process.env.UPDATE_GOLDEN === '1' && updated !== readme) writeFileSync(readmePath, updated);
    else expect(readme).toBe(updated);
  });

  it('matches the factory and describes every attribute it uses', () => {
    expect(snmpFactory.type).toBe(snmpMetadata.type);
    expect(snmpFactory.stability).toBe(snmpMetadata.stability);
    const used = new Set(snmpMetadata.metrics.flatMap((m) => m.attributes));
    expect(new Set(Object.keys(snmpMetadata.attributes))).toEqual(used);
  });

  it('has unique names, UCUM units and the device on every metric', () => {
    const names = snmpMetadata.metrics.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const metric of snmpMetadata.metrics) {
      expect(metric.unit).toMatch(/^(s|By|By\/s|W|J|A|1|\{[a-z_]+\})$/);
      expect(metric.name).toMatch(/^(hw|system|inframeter\.snmp)\.[a-z_.]+$/);
      expect(metric.attributes.slice(0, 2)).toEqual(DEVICE_ATTRIBUTES);
    }
  });

  it('lists every metric and attribute the built-in profiles emit, in the groups that emit them', () => {
    for (const [name, profile] of BUILTIN_PROFILES) {
      const tables: TableSpec[] = profile.tables;
      expect(profile.scalars.metrics).toEqual([]);
      for (const table of tables) {
        for (const metric of table.metrics) {
          const listed = snmpMetadata.metrics.find((m) => m.name === metric.name);
          expect(listed, `${name}: ${metric.name}`).toBeDefined();
          expect(listed?.group.split(', ')).toContain(name);
          expect(metric.instrument).toBe(listed?.instrument);
          expect(metric.unit).toBe(listed?.unit);
          const emitted = [...table.attributes.map((a) => a.name), ...Object.keys(metric.attributes)];
          for (const attribute of emitted)
            expect(listed?.attributes, `${name}: ${metric.name}`).toContain(attribute);
        }
      }
    }
  });
});
