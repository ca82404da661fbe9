import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateReadme } from '../../kit/metadata.ts';
import { processFactory } from './factory.ts';
import { IDENTITY_ATTRIBUTES, processMetadata } from './metadata.ts';

const readmePath = join(import.meta.dirname, 'README.md');

describe('process metadata', () => {
  it('has the metric table of README.md up to date (UPDATE_GOLDEN=1 rewrites it)', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const updated = updateReadme(readme, processMetadata);
    if (process.env.UPDATE_GOLDEN === '1' && updated !== readme) writeFileSync(readmePath, updated);
    else expect(readme).toBe(updated);
  });

  it('matches the factory and describes every attribute it uses', () => {
    expect(processFactory.type).toBe(processMetadata.type);
    expect(processFactory.stability).toBe(processMetadata.stability);
    const used = new Set(processMetadata.metrics.flatMap((m) => m.attributes));
    used.add('process.command_line');
    expect(new Set(Object.keys(processMetadata.attributes))).toEqual(used);
  });

  it('puts the process identity on every per-process metric', () => {
    for (const metric of processMetadata.metrics) {
      if (metric.name === 'inframeter.process.listed' || metric.name === 'inframeter.process.access_denied')
        continue;
      expect(metric.attributes.slice(0, IDENTITY_ATTRIBUTES.length)).toEqual(IDENTITY_ATTRIBUTES);
    }
  });

  it('has unique names, UCUM units and no unit in a name', () => {
    const names = processMetadata.metrics.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const metric of processMetadata.metrics) {
      expect(metric.unit).toMatch(/^(s|By|1|\{[a-z_]+\})$/);
      expect(metric.name).toMatch(/^(process|inframeter\.process)\.[a-z_.]+$/);
      expect(metric.name).not.toMatch(/_(seconds|bytes|total)$/);
    }
  });
});
