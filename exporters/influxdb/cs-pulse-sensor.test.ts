import { describe, expect, it } from 'vitest';
import { writeCsPulseSensorSchema } from './cs-pulse-sensor.ts';
import { LineBatch } from './line-protocol.ts';
import { batchOf, numberMetric } from './testdata/fixtures/batches.ts';

const URI = 'qemu+tcp://root@10.252.1.33:16509/system';
const VM = {
  'libvirt.uri': URI,
  'libvirt.domain.name': 'i-376-1733-VM',
  'libvirt.domain.uuid': '12805898-0fda-4fa6-9f18-fac64f673679',
  'cloudstack.instance.name': 'i-376-1733-VM',
};
const OFF = {
  ...VM,
  'libvirt.domain.name': 'off',
  'libvirt.domain.uuid': '00000000-0000-0000-0000-000000000002',
};
const VDA = {
  ...VM,
  'libvirt.disk': 'vda',
  'libvirt.disk.source': '/mnt/b13cb3c0-c84d-334c-9fc3-4826ae58d984/cc8121ef-2029-4f4f-826e-7c4f2c8a5563',
};
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const TIME = '1764003600123456789';

// The values of the seed's example documents, as the libvirt receiver reports them.
const batch = batchOf([
  numberMetric('inframeter.libvirt.host.memory', [
    [{ 'libvirt.uri': URI, 'libvirt.memory.state': 'total' }, 128_850 * MIB + 512 * 1024],
    [{ 'libvirt.uri': URI, 'libvirt.memory.state': 'free' }, 80_558 * MIB + 1],
  ]),
  numberMetric('inframeter.libvirt.host.cpu.count', [[{ 'libvirt.uri': URI }, 32]]),
  numberMetric(
    'inframeter.libvirt.host.cpu.time',
    [
      [{ 'libvirt.uri': URI, 'cpu.mode': 'kernel' }, 1_198_652.999999],
      [{ 'libvirt.uri': URI, 'cpu.mode': 'idle' }, 120_492_574.5],
      [{ 'libvirt.uri': URI, 'cpu.mode': 'user' }, 6_416_940],
      [{ 'libvirt.uri': URI, 'cpu.mode': 'iowait' }, 39_380.25],
      [{ 'libvirt.uri': URI, 'cpu.mode': 'interrupt' }, 7],
    ],
    { sum: true },
  ),
  numberMetric('inframeter.libvirt.domain.state', [
    [{ ...VM, 'libvirt.domain.state': 'running' }, 1],
    [{ ...VM, 'libvirt.domain.state': 'shutoff' }, 0],
    [{ ...OFF, 'libvirt.domain.state': 'running' }, 0],
    [{ ...OFF, 'libvirt.domain.state': 'shutoff' }, 1],
  ]),
  numberMetric(
    'inframeter.libvirt.domain.cpu.time',
    [
      [{ ...VM, 'cpu.mode': 'total' }, 1070.75],
      [{ ...VM, 'cpu.mode': 'user' }, 1000],
    ],
    { sum: true },
  ),
  numberMetric(
    'inframeter.libvirt.domain.vcpu.count',
    [
      [VM, 4],
      [OFF, 2],
    ],
    { int: true },
  ),
  numberMetric(
    'inframeter.libvirt.domain.memory.usage',
    [
      [{ ...VM, 'libvirt.memory.state': 'maximum' }, 4_194_304 * 1024],
      [{ ...VM, 'libvirt.memory.state': 'current' }, 4_194_304 * 1024],
      [{ ...VM, 'libvirt.memory.state': 'rss' }, 1_443_428 * 1024],
      [{ ...VM, 'libvirt.memory.state': 'usable' }, 1024],
    ],
    { int: true },
  ),
  ...(
    [
      ['io', 'Bytes', 111_991_494, 3_067_403_974],
      ['packets', 'Packets', 1_453_303, 588_124],
      ['errors', 'Errors', 0, 0],
      ['dropped', 'Drops', 0, 0],
    ] as const
  ).map(([metric, , rx, tx]) =>
    numberMetric(
      `inframeter.libvirt.domain.network.${metric}`,
      [
        [
          {
            ...VM,
            'network.interface.name': 'vnet0',
            'libvirt.mac': '06:f2:64:00:01:54',
            'network.io.direction': 'receive',
          },
          rx,
        ],
        [
          {
            ...VM,
            'network.interface.name': 'vnet0',
            'libvirt.mac': '06:f2:64:00:01:54',
            'network.io.direction': 'transmit',
          },
          tx,
        ],
      ],
      { int: true, sum: true },
    ),
  ),
  numberMetric(
    'inframeter.libvirt.domain.disk.io',
    // The seed's disk: CloudStack NFS primary storage, /mnt/POOL-UUID/IMAGE-UUID.
    [
      [{ ...VDA, 'disk.io.direction': 'read' }, 264_512_607_744],
      [{ ...VDA, 'disk.io.direction': 'write' }, 930_057_794_560],
    ],
    { int: true, sum: true },
  ),
  numberMetric(
    'inframeter.libvirt.domain.disk.operations',
    [
      [{ ...VDA, 'disk.io.direction': 'read' }, 16_538_654],
      [{ ...VDA, 'disk.io.direction': 'write' }, 30_476_842],
    ],
    { int: true, sum: true },
  ),
  numberMetric(
    'inframeter.libvirt.domain.disk.size',
    [
      [{ ...VDA, 'libvirt.disk.size.kind': 'capacity' }, 1000 * GIB],
      [{ ...VDA, 'libvirt.disk.size.kind': 'allocation' }, 890 * GIB + GIB - 1],
      [{ ...VDA, 'libvirt.disk.size.kind': 'physical' }, 890 * GIB],
    ],
    { int: true },
  ),
  numberMetric('system.cpu.time', [[{}, 1]]),
]);

describe('cs_pulse_sensor schema', () => {
  it("writes the seed's measurements, tags, fields and field types", () => {
    const out = new LineBatch();
    writeCsPulseSensorSchema(batch, 'ns', out);
    const tags = `vmHost=${URI},vmId=i-376-1733-VM,vmUuid=12805898-0fda-4fa6-9f18-fac64f673679`;
    expect(out.text().split('\n')).toEqual([
      `nodeInfo,vmHost=${URI} totalMem=128850i,freeMem=80558i,kernel=1198652i,idle=120492574i,user=6416940i,iowait=39380i ${TIME}`,
      `cpuTime,${tags} cpuTime=1070.75,cpus=4i ${TIME}`,
      `rss,${tags} maxmem=4194304i,mem=4194304i,rss=1443428i ${TIME}`,
      `networkInterface,${tags},mac=06:f2:64:00:01:54 readBytes=111991494i,writeBytes=3067403974i,readPackets=1453303i,writePackets=588124i,readErrors=0i,writeErrors=0i,readDrops=0i,writeDrops=0i ${TIME}`,
      `disk,${tags},image=cc8121ef-2029-4f4f-826e-7c4f2c8a5563,pool=b13cb3c0-c84d-334c-9fc3-4826ae58d984 readBytes=264512607744i,writeBytes=930057794560i,readIOPS=16538654i,writeIOPS=30476842i,totalSpace=1000i,allocatedSpace=890i,onDiskSpace=890i,ioErrors=-1i ${TIME}`,
    ]);
    // Every point of the running domain and the host memory and CPU is in a line; the rest
    // is counted (the host's interrupt time is not in cs-pulse-sensor's nodeInfo).
    expect(out.points).toBe(2 + 4 + 2 + 3 + 8 + 7);
    expect(Object.fromEntries(out.skipped)).toEqual({
      not_in_schema: 1 + 1 + 4 + 1 + 1 + 1,
      domain_inactive: 1,
    });
  });

  it('writes the timestamp in the configured precision', () => {
    const out = new LineBatch();
    writeCsPulseSensorSchema(batch, 's', out);
    expect(out.text().split('\n')[0]).toBe(
      `nodeInfo,vmHost=${URI} totalMem=128850i,freeMem=80558i,kernel=1198652i,idle=120492574i,user=6416940i,iowait=39380i 1764003600`,
    );
  });

  it('writes counted I/O errors; RBD disks by pool/image; a disk without a source by its target', () => {
    const rbd = { ...VM, 'libvirt.disk': 'vdb', 'libvirt.disk.source': 'cloudstack/8d9e2f10' };
    const bare = { ...VM, 'libvirt.disk': 'vdc' };
    const out = new LineBatch();
    writeCsPulseSensorSchema(
      batchOf([
        numberMetric(
          'inframeter.libvirt.domain.disk.errors',
          [
            [rbd, 3],
            [bare, 0],
          ],
          { int: true, sum: true },
        ),
        numberMetric(
          'inframeter.libvirt.domain.disk.operations',
          [
            [{ ...rbd, 'disk.io.direction': 'read' }, 10],
            [{ ...bare, 'disk.io.direction': 'read' }, 20],
          ],
          { int: true, sum: true },
        ),
      ]),
      'ns',
      out,
    );
    const tags = `vmHost=${URI},vmId=i-376-1733-VM,vmUuid=12805898-0fda-4fa6-9f18-fac64f673679`;
    expect(out.text().split('\n')).toEqual([
      `disk,${tags},image=8d9e2f10,pool=cloudstack ioErrors=3i,readIOPS=10i ${TIME}`,
      `disk,${tags},disk=vdc ioErrors=0i,readIOPS=20i ${TIME}`,
    ]);
    expect(out.points).toBe(4);
  });
});
