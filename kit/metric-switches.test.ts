import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { takeConfigWarnings } from './config-warnings.ts';
import type { MetricMetadata } from './metadata.ts';
import {
  enabledMetricNames,
  groupSwitchesSchema,
  groupSwitchSchema,
  metricSwitchesSchema,
  migrateGroupSwitches,
  toFlowYaml,
} from './metric-switches.ts';

const metric = (name: string, group: string, enabled: boolean): MetricMetadata => ({
  name,
  group,
  enabled,
  instrument: 'gauge',
  unit: '1',
  description: '',
  attributes: [],
});
const CATALOGUE = [metric('a.one', 'a', true), metric('a.two', 'a', false), metric('b.one', 'b', true)];

const schema = z.preprocess(
  (raw, ctx) => migrateGroupSwitches(raw, ['a', 'b'], 'boolean', ctx),
  z.strictObject({
    metrics: metricSwitchesSchema(CATALOGUE.map((m) => m.name)),
    groups: groupSwitchesSchema({ a: groupSwitchSchema({}).optional(), b: groupSwitchSchema({}).optional() }),
  }),
);

describe('metric switches', () => {
  it('resolves each metric: its own switch, else its group, else its default', () => {
    expect([...enabledMetricNames(CATALOGUE, {})]).toEqual(['a.one', 'b.one']);
    expect([...enabledMetricNames(CATALOGUE, {}, { a: { enabled: true } })]).toEqual([
      'a.one',
      'a.two',
      'b.one',
    ]);
    expect([
      ...enabledMetricNames(CATALOGUE, { 'a.one': { enabled: true } }, { a: { enabled: false }, b: {} }),
    ]).toEqual(['a.one', 'b.one']);
  });

  it('reports unknown metrics and groups at their paths, beside the other problems', () => {
    const result = schema.safeParse({
      metrics: { 'a.three': { enabled: false }, 'a.one': { enabled: 'no' } },
      groups: { c: { enabled: true } },
    });
    expect(result.error?.issues.map((i) => `${i.path.join('/')}: ${i.message}`)).toEqual([
      'metrics/a.one/enabled: Invalid input: expected boolean, received string',
      'metrics/a.three: unknown metric "a.three"; known metrics: a.one, a.two, b.one',
      'groups/c: unknown metric group "c"; known groups: a, b',
    ]);
  });

  it('moves old group keys under metrics: to groups:, with a warning each, once per value', () => {
    const raw = { metrics: { a: true, 'b.one': { enabled: false } } };
    const parsed = schema.parse(raw);
    schema.parse(raw);
    expect(parsed).toEqual({ metrics: { 'b.one': { enabled: false } }, groups: { a: { enabled: true } } });
    expect(takeConfigWarnings(raw)).toEqual([
      {
        path: ['metrics', 'a'],
        message:
          'deprecated: "metrics: { a: true }" is still read in this release and will be rejected in the next one; write "groups: { a: { enabled: true } }"',
      },
    ]);
    expect(takeConfigWarnings(raw)).toEqual([]);
    expect(
      schema.safeParse({ metrics: { a: false }, groups: { a: { enabled: true } } }).error?.issues,
    ).toEqual([
      { code: 'custom', path: ['metrics', 'a'], message: 'also given as groups.a: keep only groups.a' },
    ]);
  });

  it('writes values in YAML flow style', () => {
    expect(toFlowYaml({ enabled: false, include: ['sd.*', 'true', 'a b'] })).toBe(
      '{ enabled: false, include: [sd.*, "true", "a b"] }',
    );
  });
});
