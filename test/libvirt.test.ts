import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { openConnection } from '../receivers/libvirt/client.ts';
import { configSchema } from '../receivers/libvirt/config.ts';
import { libvirtFactory } from '../receivers/libvirt/factory.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import type { MetricSink } from '../kit/component.ts';
import { createLogger } from '../kit/logger.ts';
import { missing } from './support/peers.ts';
import { createTestSettings, scrapeOnce } from './support/settings.ts';

// libvirt's test driver, in this process: a node XML with known domains, cross-checked
// against what virsh prints for the same file in the same run; and test:///default, where
// the test itself starts and destroys a domain through libvirt while the receiver watches.
const NODE_XML = join(
  import.meta.dirname,
  '..',
  'receivers',
  'libvirt',
  'testdata',
  'fixtures',
  'testnode.xml',
);
const NODE = `test://${NODE_XML}`;
const skip = missing('virsh', 'libvirt-clients');

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

function virsh(...args: string[]): Record<string, string> {
  const r = spawnSync('virsh', ['-c', NODE, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .map((l) => /^([^:]+?):?\s{2,}(.*)$/.exec(l.trim()) ?? /^([^:]+):\s*(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]?.replace(/:$/, '') ?? '', m[2] ?? '']),
  );
}

describe.skipIf(skip)('libvirt receiver on the test driver', () => {
  const scrapers: LibvirtScraper[] = [];
  afterAll(async () => {
    for (const s of scrapers) await s.shutdown();
  });

  it('reports exactly what the driver fixes, as virsh prints it, and counters that grow', async () => {
    const scraper = new LibvirtScraper(
      configSchema.parse({ uris: [NODE, 'qemu+tcp://127.0.0.1:1/system'], reconnect_delay: '10s' }),
    );
    scrapers.push(scraper);
    const { batch, errors, runner } = await scrapeOnce(scraper);
    const alpha = { 'libvirt.domain.name': 'vm-alpha' };
    const info = virsh('dominfo', 'vm-alpha');
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...alpha, 'libvirt.memory.state': 'maximum' }),
    ).toBe(Number(/(\d+) KiB/.exec(info['Max memory'] ?? '')?.[1]) * 1024);
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...alpha, 'libvirt.memory.state': 'current' }),
    ).toBe(Number(/(\d+) KiB/.exec(info['Used memory'] ?? '')?.[1]) * 1024);
    expect(value(batch, 'inframeter.libvirt.domain.vcpu.count', alpha)).toBe(Number(info['CPU(s)']));
    expect(
      value(batch, 'inframeter.libvirt.domain.state', { ...alpha, 'libvirt.domain.state': 'running' }),
    ).toBe(1);
    expect(
      value(batch, 'inframeter.libvirt.domain.state', {
        'libvirt.domain.name': 'vm-beta',
        'libvirt.domain.state': 'shutoff',
      }),
    ).toBe(1);
    expect(value(batch, 'inframeter.libvirt.domain.vcpu.count', { 'libvirt.domain.uuid': info.UUID })).toBe(
      2,
    );
    const memstat = Object.fromEntries(
      spawnSync('virsh', ['-c', NODE, 'dommemstat', 'vm-alpha'], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)),
    ) as Record<string, string>;
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...alpha, 'libvirt.memory.state': 'rss' }),
    ).toBe(Number(memstat.rss) * 1024);
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...alpha, 'libvirt.memory.state': 'usable' }),
    ).toBe(Number(memstat.usable) * 1024);
    expect(
      value(batch, 'inframeter.libvirt.domain.disk.size', {
        ...alpha,
        'libvirt.disk': 'vda',
        'libvirt.disk.size.kind': 'capacity',
      }),
    ).toBeGreaterThan(0);
    const iface = { ...alpha, 'libvirt.mac': '52:54:00:aa:bb:01', 'network.io.direction': 'receive' };
    const rx1 = value(batch, 'inframeter.libvirt.domain.network.io', iface);
    const read1 = value(batch, 'inframeter.libvirt.domain.disk.io', {
      ...alpha,
      'libvirt.disk': 'vda',
      'disk.io.direction': 'read',
    });
    const cpu1 = value(batch, 'inframeter.libvirt.domain.cpu.time', { ...alpha, 'cpu.mode': 'total' });
    expect(typeof rx1).toBe('number');
    expect(
      value(batch, 'inframeter.libvirt.host.memory', {
        'libvirt.uri': NODE,
        'libvirt.memory.state': 'total',
      }),
    ).toBe(16777216 * 1024);
    // The unreachable hypervisor is its own error and up 0; the test driver's data is all there.
    expect(value(batch, 'inframeter.libvirt.up', { 'libvirt.uri': NODE })).toBe(1);
    expect(value(batch, 'inframeter.libvirt.up', { 'libvirt.uri': 'qemu+tcp://127.0.0.1:1/system' })).toBe(0);
    expect([...errors.keys()]).toEqual(['qemu+tcp://127.0.0.1:1/system']);
    // Bytes and sums of things are integers, times and states doubles; one scope, the receiver's.
    const valueType = (name: string) =>
      batch.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)?.descriptor
        .valueType;
    expect(
      [
        'inframeter.libvirt.domain.network.io',
        'inframeter.libvirt.domain.network.packets',
        'inframeter.libvirt.domain.vcpu.count',
        'inframeter.libvirt.host.memory',
        'inframeter.libvirt.domain.cpu.time',
        'inframeter.libvirt.domain.state',
        'inframeter.libvirt.up',
      ].map(valueType),
    ).toEqual([
      ValueType.INT,
      ValueType.INT,
      ValueType.INT,
      ValueType.INT,
      ValueType.DOUBLE,
      ValueType.DOUBLE,
      ValueType.DOUBLE,
    ]);
    expect(batch.scopeMetrics.map((s) => s.scope.name)).toEqual(['inframeter/receiver/libvirt']);
    await new Promise((r) => setTimeout(r, 50));
    const { batch: second } = await runner.run(10_000);
    expect(value(second, 'inframeter.libvirt.domain.network.io', iface)).toBeGreaterThanOrEqual(
      rx1 ?? Infinity,
    );
    expect(
      value(second, 'inframeter.libvirt.domain.disk.io', {
        ...alpha,
        'libvirt.disk': 'vda',
        'disk.io.direction': 'read',
      }),
    ).toBeGreaterThanOrEqual(read1 ?? Infinity);
    expect(
      value(second, 'inframeter.libvirt.domain.cpu.time', { ...alpha, 'cpu.mode': 'total' }),
    ).toBeGreaterThan(cpu1 ?? Infinity);
  });

  it("reports the host's CPU times, each disk's source and its I/O errors, as virsh prints them", async () => {
    const scraper = new LibvirtScraper(configSchema.parse({ uris: [NODE] }));
    scrapers.push(scraper);
    const { batch, errors, runner } = await scrapeOnce(scraper);
    expect([...errors.keys()]).toEqual([]);
    // virsh nodecpustats prints libvirt's `kernel` as `system`, in ns; the test driver fixes them.
    const cpu = virsh('nodecpustats');
    for (const [mode, key] of [
      ['user', 'user'],
      ['kernel', 'system'],
      ['idle', 'idle'],
      ['iowait', 'iowait'],
    ] as const)
      expect(
        value(batch, 'inframeter.libvirt.host.cpu.time', { 'libvirt.uri': NODE, 'cpu.mode': mode }),
        mode,
      ).toBe(Number(cpu[key]) / 1e9);
    // The source as the domain XML gives it, on every disk metric of the disk.
    const source = /<source file='([^']+)'/.exec(
      spawnSync('virsh', ['-c', NODE, 'dumpxml', 'vm-alpha'], { encoding: 'utf8' }).stdout,
    )?.[1];
    expect(source).toBe('/var/lib/libvirt/images/alpha.qcow2');
    const vda = { 'libvirt.domain.name': 'vm-alpha', 'libvirt.disk': 'vda', 'libvirt.disk.source': source };
    for (const metric of [
      'inframeter.libvirt.domain.disk.io',
      'inframeter.libvirt.domain.disk.operations',
      'inframeter.libvirt.domain.disk.size',
      'inframeter.libvirt.domain.disk.errors',
    ])
      expect(value(batch, metric, vda), metric).toBeTypeOf('number');
    // The test driver's error count follows the clock: virsh's lies between two scrapes.
    const errs1 = value(batch, 'inframeter.libvirt.domain.disk.errors', vda) ?? Infinity;
    const blkstat = Object.fromEntries(
      spawnSync('virsh', ['-c', NODE, 'domblkstat', 'vm-alpha', 'vda'], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).slice(1)),
    ) as Record<string, string>;
    const { batch: second } = await runner.run(10_000);
    const errs2 = value(second, 'inframeter.libvirt.domain.disk.errors', vda) ?? -Infinity;
    expect(errs1).toBeLessThanOrEqual(Number(blkstat.errs));
    expect(errs2).toBeGreaterThanOrEqual(Number(blkstat.errs));
  });

  it('sees a domain appear when started and disappear when destroyed and undefined', async () => {
    // test:///default is one driver per process: a read-write connection of the test's own
    // changes what the receiver's read-only connection sees.
    const lib = koffi.load('libvirt.so.0');
    const open = lib.func('void *virConnectOpen(const char *name)');
    const define = lib.func('void *virDomainDefineXML(void *conn, const char *xml)');
    const create = lib.func('int virDomainCreate(void *dom)');
    const destroy = lib.func('int virDomainDestroy(void *dom)');
    const undefine = lib.func('int virDomainUndefine(void *dom)');
    const conn = open('test:///default') as unknown;
    const dom = define(
      conn,
      "<domain type='test'><name>vm-gamma</name><memory>524288</memory><vcpu>3</vcpu><os><type>hvm</type></os></domain>",
    ) as unknown;
    const scraper = new LibvirtScraper(configSchema.parse({ uris: ['test:///default'] }));
    scrapers.push(scraper);
    const gamma = { 'libvirt.domain.name': 'vm-gamma' };
    const { batch: defined, runner } = await scrapeOnce(scraper);
    expect(
      value(defined, 'inframeter.libvirt.domain.state', { ...gamma, 'libvirt.domain.state': 'shutoff' }),
    ).toBe(1);
    expect(create(dom)).toBe(0);
    const { batch: running } = await runner.run(10_000);
    expect(
      value(running, 'inframeter.libvirt.domain.state', { ...gamma, 'libvirt.domain.state': 'running' }),
    ).toBe(1);
    expect(value(running, 'inframeter.libvirt.domain.vcpu.count', gamma)).toBe(3);
    expect(destroy(dom)).toBe(0);
    const { batch: destroyed } = await runner.run(10_000);
    expect(
      value(destroyed, 'inframeter.libvirt.domain.state', { ...gamma, 'libvirt.domain.state': 'shutoff' }),
    ).toBe(1);
    expect(undefine(dom)).toBe(0);
    const { batch: gone } = await runner.run(10_000);
    expect(
      value(gone, 'inframeter.libvirt.domain.state', { ...gamma, 'libvirt.domain.state': 'shutoff' }),
    ).toBeUndefined();
    expect(
      value(gone, 'inframeter.libvirt.domain.state', {
        'libvirt.domain.name': 'test',
        'libvirt.domain.state': 'running',
      }),
    ).toBe(1);
  });

  it('drops a domain that vanishes between the list and its stats, reports it, and goes on', async () => {
    const lib = koffi.load('libvirt.so.0');
    const open = lib.func('void *virConnectOpen(const char *name)');
    const define = lib.func('void *virDomainDefineXML(void *conn, const char *xml)');
    const create = lib.func('int virDomainCreate(void *dom)');
    const destroy = lib.func('int virDomainDestroy(void *dom)');
    const undefine = lib.func('int virDomainUndefine(void *dom)');
    const conn = open('test:///default') as unknown;
    const dom = define(
      conn,
      "<domain type='test'><name>vm-delta</name><memory>262144</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    ) as unknown;
    expect(create(dom)).toBe(0);
    const epsilon = define(
      conn,
      "<domain type='test'><name>vm-epsilon</name><memory>262144</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    ) as unknown;
    expect(create(epsilon)).toBe(0);
    const listed: string[][] = [];
    // Right after the bulk call listed them as running, and before their own calls: vm-delta
    // destroyed and undefined, vm-epsilon destroyed (still defined).
    const afterList = (names: readonly string[]): void => {
      listed.push([...names]);
      if (names.includes('vm-delta')) {
        expect(destroy(dom)).toBe(0);
        expect(undefine(dom)).toBe(0);
        expect(destroy(epsilon)).toBe(0);
      }
    };
    const scraper = new LibvirtScraper(configSchema.parse({ uris: ['test:///default'] }), (uri) =>
      openConnection(uri, { afterList }),
    );
    scrapers.push(scraper);
    const { batch, errors, runner } = await scrapeOnce(scraper);
    expect(listed[0]).toContain('vm-delta');
    expect([...errors.keys()]).toEqual(['test:///default domain vm-delta']);
    expect(errors.get('test:///default domain vm-delta')?.message).toMatch(
      /^test:\/\/\/default: domain vm-delta vanished between list and stats \(virDomainGetInfo: Domain not found/,
    );
    const delta = { 'libvirt.domain.name': 'vm-delta' };
    expect(value(batch, 'inframeter.libvirt.domain.vcpu.count', delta)).toBeUndefined();
    expect(
      value(batch, 'inframeter.libvirt.domain.state', { ...delta, 'libvirt.domain.state': 'running' }),
    ).toBeUndefined();
    // The rest goes on: the driver's own domain is there, whole, and the connection is up.
    const test = { 'libvirt.domain.name': 'test' };
    expect(
      value(batch, 'inframeter.libvirt.domain.state', { ...test, 'libvirt.domain.state': 'running' }),
    ).toBe(1);
    expect(value(batch, 'inframeter.libvirt.domain.vcpu.count', test)).toBe(2);
    expect(value(batch, 'inframeter.libvirt.up', { 'libvirt.uri': 'test:///default' })).toBe(1);
    // Stopped in between: reported as it is now, shut off, without error.
    const eps = { 'libvirt.domain.name': 'vm-epsilon' };
    expect(
      value(batch, 'inframeter.libvirt.domain.state', { ...eps, 'libvirt.domain.state': 'shutoff' }),
    ).toBe(1);
    expect(
      value(batch, 'inframeter.libvirt.domain.state', { ...eps, 'libvirt.domain.state': 'running' }),
    ).toBe(0);
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', { ...eps, 'libvirt.memory.state': 'rss' }),
    ).toBeUndefined();
    // Next scrape: vm-delta is no longer listed and nothing fails.
    const { batch: next, report } = await runner.run(10_000);
    expect(listed[1]).not.toContain('vm-delta');
    expect([...report.errors.keys()]).toEqual([]);
    expect(value(next, 'inframeter.libvirt.domain.vcpu.count', test)).toBe(2);
    expect(undefine(epsilon)).toBe(0);
  });

  it('a hypervisor that refuses: its own libvirt message, logged once, counted, recovered when it answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-libvirt-'));
    // A test driver whose node file is not there yet refuses the connection, as a stopped
    // libvirtd does; then the file appears and the hypervisor answers.
    const late = join(dir, 'late.xml');
    const lateUri = `test://${late}`;
    const tcp = 'qemu+tcp://127.0.0.1:1/system';
    const lines: { level: number; msg: string; key?: string }[] = [];
    const logger = createLogger('debug', {
      write: (line: string) => {
        lines.push(JSON.parse(line) as { level: number; msg: string; key?: string });
      },
    });
    const settings = { ...createTestSettings('libvirt', 'receiver'), logger };
    const receiver = libvirtFactory.create(
      settings,
      configSchema.parse({
        uris: [NODE, lateUri, tcp],
        collection_interval: '50ms',
        // Each connection's first scrape starts its thread.
        timeout: '5s',
        reconnect_delay: '50ms',
        max_reconnect_delay: '100ms',
      }),
    );
    const batches: ResourceMetrics[] = [];
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await receiver.start(sink);
      await waitFor('4 batches', () => batches.length >= 4);
      const last = batches.at(-1);
      if (last === undefined) throw new Error('no batch');
      expect(value(last, 'inframeter.libvirt.up', { 'libvirt.uri': NODE })).toBe(1);
      expect(value(last, 'inframeter.libvirt.up', { 'libvirt.uri': lateUri })).toBe(0);
      expect(value(last, 'inframeter.libvirt.up', { 'libvirt.uri': tcp })).toBe(0);
      expect(value(last, 'inframeter.libvirt.domain.vcpu.count', { 'libvirt.domain.name': 'vm-alpha' })).toBe(
        2,
      );
      // pino levels: 40 warn (an error, once per distinct message), 30 info (recovered).
      const warnings = lines.filter((l) => l.level === 40);
      expect(warnings.find((l) => l.key === tcp)?.msg).toBe(
        `${tcp}: unable to connect to server at '127.0.0.1:1': Connection refused`,
      );
      expect(warnings.find((l) => l.key === lateUri)?.msg).toMatch(
        new RegExp(`^${lateUri}: XML error: failed to parse xml document '${late}'`),
      );
      // Two failing sources per scrape (the refusals, or "reconnecting in …" in between).
      expect(settings.telemetry.counts.failedSources).toBeGreaterThanOrEqual(2 * 4);
      copyFileSync(NODE_XML, late);
      await waitFor('the late hypervisor up', () => {
        const b = batches.at(-1);
        return b !== undefined && value(b, 'inframeter.libvirt.up', { 'libvirt.uri': lateUri }) === 1;
      });
      const up = batches.at(-1);
      if (up === undefined) throw new Error('no batch');
      expect(
        value(up, 'inframeter.libvirt.domain.vcpu.count', {
          'libvirt.domain.name': 'vm-alpha',
          'libvirt.uri': lateUri,
        }),
      ).toBe(2);
      expect(value(up, 'inframeter.libvirt.up', { 'libvirt.uri': tcp })).toBe(0);
      await waitFor('recovered logged', () =>
        lines.some((l) => l.level === 30 && l.msg === 'recovered' && l.key === lateUri),
      );
      // Logged once however many scrapes it failed (the waits between attempts included).
      expect(lines.filter((l) => l.level === 40 && l.key === tcp)).toHaveLength(1);
      expect(lines.filter((l) => l.level === 40 && l.key === lateUri)).toHaveLength(1);
    } finally {
      await receiver.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
