import { ValueType } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ProducedMetric } from '../../kit/snapshot-producer.ts';
import { AttributeTree } from './attribute-tree.ts';

const metric = (name: string, index: number): ProducedMetric =>
  new ProducedMetric(
    { name, instrument: 'counter', unit: 'By', description: name, attributes: [], group: 'g', enabled: true },
    ValueType.INT,
    index,
  );

describe('attribute tree', () => {
  it('gives the same node for the same attribute, and each node one series per metric', () => {
    const root = new AttributeTree({ 'cgroup.path': '/a' });
    const read = root.with('disk.io.direction', 'read').with('system.device', 'vda');
    expect(read.attributes).toEqual({
      'cgroup.path': '/a',
      'disk.io.direction': 'read',
      'system.device': 'vda',
    });
    expect(root.with('disk.io.direction', 'read').with('system.device', 'vda')).toBe(read);
    const write = root.with('disk.io.direction', 'write').with('system.device', 'vda');
    expect(write).not.toBe(read);
    expect(write.attributes['disk.io.direction']).toBe('write');
    expect(root.with('disk.io.direction', 'read').with('system.device', 'vdb')).not.toBe(read);

    const [io, ops, third] = [metric('io', 0), metric('ops', 1), metric('third', 2)];
    const first = read.series(io);
    expect(read.series(io)).toBe(first);
    const second = read.series(ops);
    expect(second).not.toBe(first);
    const last = read.series(third);
    expect([read.series(io), read.series(ops), read.series(third)]).toEqual([first, second, last]);
    expect([first.metric, second.metric, last.metric]).toEqual([0, 1, 2]);
    expect(last.attributes).toBe(read.attributes);
    expect(write.series(io)).not.toBe(first);
  });
});
