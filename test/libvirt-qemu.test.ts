import { readFileSync } from 'node:fs';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../receivers/libvirt/config.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import type { QemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { QEMU_DAEMON_TOOLS, startQemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { missing, poll } from './support/peers.ts';
import { scrapeOnce } from './support/settings.ts';

// The bulk path against libvirt's real QEMU driver: a private libvirtd (session mode, as
// nobody, its own socket and network namespace) runs a tiny TCG guest with a virtio disk, a
// virtio interface on a tap and a virtio balloon. The receiver's one
// virConnectGetAllDomainStats per scrape must give what `virsh domstats --raw` prints for
// the same guest in the same run.

function notRoot(): boolean {
  if (process.getuid?.() === 0) return false;
  const message =
    'the real-QEMU libvirt test needs root (a private network namespace and a daemon run as nobody)';
  if (process.env.CI !== undefined) throw new Error(message);
  console.warn(`skipping: ${message}`);
  return true;
}

const skip = QEMU_DAEMON_TOOLS.some(([binary, pkg]) => missing(binary, pkg)) || notRoot();

function value(
  batch: ResourceMetrics,
  metric: string,
  attributes: Record<string, unknown>,
): number | undefined {
  for (const s of batch.scopeMetrics)
    for (const m of s.metrics)
      if (m.descriptor.name === metric)
        for (const p of m.dataPoints as DataPoint<number>[])
          if (Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)) return p.value;
  return undefined;
}

/** `virsh domstats --raw` of one domain: `key=value` lines. */
function domstats(daemon: QemuDaemon, name: string): Map<string, string> {
  const out = daemon.virsh('domstats', '--raw', name);
  return new Map(
    out
      .split('\n')
      .map((l) => /^\s+([^=]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
}

const GUEST = {
  name: 'inframeter-tiny',
  memoryMiB: 64,
  vcpus: 2,
  diskBytes: 16 * 1024 * 1024,
  mac: '52:54:00:12:34:56',
  tap: 0,
};

describe.skipIf(skip)('libvirt receiver on the real QEMU driver (libvirtd, TCG guest)', () => {
  let daemon: QemuDaemon | undefined;
  let scraper: LibvirtScraper | undefined;
  let pids: number[] = [];

  beforeAll(async () => {
    daemon = await startQemuDaemon(1);
    await daemon.startGuest(GUEST);
    pids = daemon.qemuPids();
    // Wait for traffic on the tap (the namespace's IPv6 router solicitations reach the guest).
    const d = daemon;
    await poll('packets on tap0', 30_000, () =>
      Promise.resolve(Number(domstats(d, GUEST.name).get('net.0.rx.pkts') ?? 0) > 0 ? true : undefined),
    );
    // Three waits of up to 30 s each: the daemon's socket, the guest's pid file, the packets.
  }, 120_000);

  afterAll(async () => {
    await scraper?.shutdown();
    await daemon?.stop();
    // Nothing left behind: the QEMU process and the daemon are gone.
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    // The daemon's stop waits up to 5 s for libvirtd, then up to 30 s for QEMU to go.
  }, 60_000);

  it('gets cpu, vcpu, balloon, block and interface groups in bulk, as virsh domstats prints them', async () => {
    if (daemon === undefined) throw new Error('no daemon');
    const uri = daemon.uri;
    expect(pids).toHaveLength(1);
    scraper = new LibvirtScraper(configSchema.parse({ uris: [uri] }));
    const { batch: first, errors, runner } = await scrapeOnce(scraper);
    expect([...errors.keys()]).toEqual([]);
    const stats = domstats(daemon, GUEST.name);
    const { batch: second } = await runner.run(10_000);
    const dom = { 'libvirt.domain.name': GUEST.name, 'libvirt.uri': uri };
    const num = (key: string): number => {
      const v = stats.get(key);
      if (v === undefined) throw new Error(`virsh domstats has no ${key}: ${JSON.stringify([...stats])}`);
      return Number(v);
    };

    expect(value(first, 'inframeter.libvirt.up', { 'libvirt.uri': uri })).toBe(1);
    expect(
      value(first, 'inframeter.libvirt.domain.state', { ...dom, 'libvirt.domain.state': 'running' }),
    ).toBe(1);
    expect(num('state.state')).toBe(1);
    // Fixed values: exactly the guest's definition, and exactly what virsh prints.
    expect(num('vcpu.current')).toBe(GUEST.vcpus);
    expect(value(first, 'inframeter.libvirt.domain.vcpu.count', dom)).toBe(num('vcpu.current'));
    const memory = (batch: ResourceMetrics, state: string): number | undefined =>
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...dom, 'libvirt.memory.state': state });
    expect(num('balloon.maximum')).toBe(GUEST.memoryMiB * 1024);
    expect(memory(first, 'maximum')).toBe(num('balloon.maximum') * 1024);
    expect(memory(first, 'current')).toBe(num('balloon.current') * 1024);
    // RSS of the QEMU process: what /proc says of it, within what it can move in a moment.
    const rss = memory(first, 'rss') ?? 0;
    const procRss =
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pids[0])}/status`, 'utf8'))?.[1]) * 1024;
    expect(rss).toBeGreaterThan(8 * 1024 * 1024);
    expect(Math.abs(rss - procRss)).toBeLessThan(16 * 1024 * 1024);
    expect(stats.get('block.0.name')).toBe('vda');
    const disk = { ...dom, 'libvirt.disk': 'vda' };
    const size = (kind: string): number | undefined =>
      value(first, 'inframeter.libvirt.domain.disk.size', { ...disk, 'libvirt.disk.size.kind': kind });
    expect(num('block.0.capacity')).toBe(GUEST.diskBytes);
    expect(size('capacity')).toBe(num('block.0.capacity'));
    expect(size('physical')).toBe(num('block.0.physical'));
    expect(size('allocation')).toBe(num('block.0.allocation'));
    expect(stats.get('net.0.name')).toBe('tap0');

    // Counters: the receiver's first scrape ≤ virsh ≤ the receiver's second scrape.
    const between = (
      metric: string,
      attributes: Record<string, unknown>,
      virshValue: number,
      scale = 1,
    ): void => {
      const a = value(first, metric, { ...dom, ...attributes });
      const b = value(second, metric, { ...dom, ...attributes });
      expect(a, `${metric} ${JSON.stringify(attributes)} in the first scrape`).toBeTypeOf('number');
      expect(a).toBeLessThanOrEqual(virshValue / scale);
      expect(b).toBeGreaterThanOrEqual(virshValue / scale);
    };
    between('inframeter.libvirt.domain.cpu.time', { 'cpu.mode': 'total' }, num('cpu.time'), 1e9);
    // user and system CPU, per-vCPU times and block times exist only in bulk stats: the bulk
    // path delivered them (the per-domain fallback has none of them).
    between('inframeter.libvirt.domain.cpu.time', { 'cpu.mode': 'user' }, num('cpu.user'), 1e9);
    between('inframeter.libvirt.domain.cpu.time', { 'cpu.mode': 'system' }, num('cpu.system'), 1e9);
    for (let v = 0; v < GUEST.vcpus; v++)
      between(
        'inframeter.libvirt.domain.vcpu.time',
        { 'libvirt.vcpu': v },
        num(`vcpu.${String(v)}.time`),
        1e9,
      );
    const read = { 'libvirt.disk': 'vda', 'disk.io.direction': 'read' };
    between('inframeter.libvirt.domain.disk.io', read, num('block.0.rd.bytes'));
    between('inframeter.libvirt.domain.disk.operations', read, num('block.0.rd.reqs'));
    between('inframeter.libvirt.domain.disk.operation_time', read, num('block.0.rd.times'), 1e9);
    // SeaBIOS reads the boot sector of the empty disk.
    expect(num('block.0.rd.reqs')).toBeGreaterThan(0);
    const write = { 'libvirt.disk': 'vda', 'disk.io.direction': 'write' };
    between('inframeter.libvirt.domain.disk.io', write, num('block.0.wr.bytes'));
    const nic = { 'network.interface.name': 'tap0', 'libvirt.mac': GUEST.mac };
    for (const [direction, prefix] of [
      ['receive', 'rx'],
      ['transmit', 'tx'],
    ] as const) {
      const a = { ...nic, 'network.io.direction': direction };
      between('inframeter.libvirt.domain.network.io', a, num(`net.0.${prefix}.bytes`));
      between('inframeter.libvirt.domain.network.packets', a, num(`net.0.${prefix}.pkts`));
      between('inframeter.libvirt.domain.network.errors', a, num(`net.0.${prefix}.errs`));
      between('inframeter.libvirt.domain.network.dropped', a, num(`net.0.${prefix}.drop`));
    }
    // The host through the same connection.
    expect(value(first, 'inframeter.libvirt.host.cpu.count', { 'libvirt.uri': uri })).toBe(
      Number(/CPU\(s\):\s+(\d+)/.exec(daemon.virsh('nodeinfo'))?.[1]),
    );
    expect(
      value(first, 'inframeter.libvirt.host.memory', { 'libvirt.uri': uri, 'libvirt.memory.state': 'total' }),
    ).toBe(Number(/Memory size:\s+(\d+) KiB/.exec(daemon.virsh('nodeinfo'))?.[1]) * 1024);
  }, 60_000);
});
