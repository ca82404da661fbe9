import { describe, expect, it } from 'vitest';
import {
  attributesToLabels,
  escapeLabelValue,
  formatLabels,
  targetIdentity,
  toLabelValue,
} from './labels.ts';

describe('attributesToLabels', () => {
  it('sanitizes keys and turns values into text', () => {
    expect(
      attributesToLabels({ 'cpu.mode': 'user', cpu: 3, up: true, ids: [1, 'a'], empty: '', none: undefined }),
    ).toEqual(
      new Map([
        ['cpu_mode', 'user'],
        ['cpu', '3'],
        ['up', 'true'],
        ['ids', '[1,"a"]'],
      ]),
    );
  });

  it('joins the values of keys that map to one label with ; in the order of the original keys', () => {
    expect(attributesToLabels({ 'a.b': 'dot', 'a-b': 'dash', a_b: 'underscore' })).toEqual(
      new Map([['a_b', 'dash;dot;underscore']]),
    );
  });

  it('leaves out excluded keys', () => {
    expect(attributesToLabels({ 'service.name': 'x', 'host.name': 'h' }, new Set(['service.name']))).toEqual(
      new Map([['host_name', 'h']]),
    );
  });
});

describe('targetIdentity', () => {
  it.each([
    [
      { 'service.name': 'inframeter', 'service.instance.id': 'a1', 'host.name': 'n1' },
      { job: 'inframeter', instance: 'a1' },
    ],
    [
      { 'service.name': 'inframeter', 'service.namespace': 'lab', 'host.name': 'n1' },
      { job: 'lab/inframeter', instance: 'n1' },
    ],
    [{ 'host.name': 'n1' }, { instance: 'n1' }],
    [{ 'service.namespace': 'lab' }, {}],
    [{}, {}],
  ])('%j → %j', (attributes, expected) => {
    expect(Object.fromEntries(targetIdentity(attributes))).toEqual(expected);
  });
});

describe('label text', () => {
  it('escapes backslashes, double quotes and line feeds, and sorts by name', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(
      formatLabels(
        new Map([
          ['zone', 'b'],
          ['app', 'x"y'],
        ]),
      ),
    ).toBe('app="x\\"y",zone="b"');
    expect(toLabelValue(null)).toBe('');
  });

  it('turns every kind of attribute value into text', () => {
    expect(toLabelValue('x')).toBe('x');
    expect(toLabelValue(1.5)).toBe('1.5');
    expect(toLabelValue(false)).toBe('false');
    expect(toLabelValue(2n ** 70n)).toBe('1180591620717411303424');
    expect(toLabelValue(new Uint8Array([1, 2, 255]))).toBe('AQL/');
    expect(toLabelValue({ a: [1, 'b'], n: 3n })).toBe('{"a":[1,"b"],"n":"3"}');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(toLabelValue(cycle)).toBe('[unserializable]');
  });
});
