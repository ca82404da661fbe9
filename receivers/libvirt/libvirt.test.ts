import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMetricTable, TABLE_END, TABLE_START } from '../../kit/metadata.ts';
import { libvirtMetadata } from './metadata.ts';
import { parseDomainXml } from './parse/domain-xml.ts';
import { applyBulkParams, emptyStats } from './parse/stats.ts';

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', name), 'utf8');

describe('domain XML', () => {
  it('finds disks (not CD-ROMs), interfaces with MACs, and the OpenStack instance name', () => {
    expect(parseDomainXml(fixture('domain-openstack.xml'))).toEqual({
      disks: ['vda'],
      diskSources: new Map([['vda', '/var/lib/nova/instances/x/disk']]),
      interfaces: [{ target: 'tap1234', mac: 'fa:16:3e:11:22:33' }],
      cloudstackInstance: undefined,
      openstackInstance: 'web-frontend-1',
    });
  });

  it('recognizes a CloudStack instance by its name', () => {
    expect(parseDomainXml(fixture('domain-cloudstack.xml')).cloudstackInstance).toBe('i-2-34-VM');
  });

  it("reads each disk's source: file, RBD name, block device, storage volume; not the backing store's", () => {
    const d = parseDomainXml(fixture('domain-cloudstack.xml'));
    expect(d.disks).toEqual(['vda', 'vdb', 'vdc', 'vdd']);
    expect([...d.diskSources]).toEqual([
      ['vda', '/mnt/b13cb3c0-c84d-334c-9fc3-4826ae58d984/cc8121ef-2029-4f4f-826e-7c4f2c8a5563'],
      ['vdb', 'cloudstack/8d9e2f10-5c4b-4b7e-9a51-0c1d2e3f4a5b'],
      ['vdc', '/dev/mapper/vg0-data'],
      ['vdd', 'local-pool/data&logs'],
    ]);
  });
});

describe('bulk stats', () => {
  it('folds typed parameters into a domain', () => {
    const stats = emptyStats('vm', 'u');
    applyBulkParams(
      stats,
      new Map<string, number | string>([
        ['state.state', 1],
        ['cpu.time', 5e9],
        ['cpu.user', 3e9],
        ['vcpu.current', 2],
        ['vcpu.0.time', 2e9],
        ['vcpu.1.time', 1e9],
        ['balloon.rss', 1024],
        ['block.count', 1],
        ['block.0.name', 'vda'],
        ['block.0.rd.bytes', 4096],
        ['net.count', 1],
        ['net.0.name', 'vnet0'],
        ['net.0.rx.bytes', 100],
      ]),
    );
    expect(stats).toMatchObject({ state: 1, cpuTime: 5e9, cpuUser: 3e9, vcpuCount: 2 });
    expect([...stats.vcpuTimes]).toEqual([
      [0, 2e9],
      [1, 1e9],
    ]);
    expect([...stats.balloon]).toEqual([['rss', 1024]]);
    expect([...(stats.blocks.get('vda') ?? [])]).toEqual([['rd.bytes', 4096]]);
    expect([...(stats.nets.get('vnet0') ?? [])]).toEqual([['rx.bytes', 100]]);
  });

  it('README metric table is current (`npm run docs` rewrites it)', () => {
    expect(readFileSync(join(import.meta.dirname, 'README.md'), 'utf8')).toContain(
      `${TABLE_START}\n${renderMetricTable(libvirtMetadata)}\n${TABLE_END}`,
    );
  });
});
