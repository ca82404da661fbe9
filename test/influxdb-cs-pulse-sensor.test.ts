import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../exporters/influxdb/config.ts';
import { InfluxdbExporter } from '../exporters/influxdb/influxdb.ts';
import { configSchema as libvirtConfigSchema } from '../receivers/libvirt/config.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import type { QemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { QEMU_DAEMON_TOOLS, startQemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import type { Influxd } from './support/influxdb-servers.ts';
import { startInfluxd } from './support/influxdb-servers.ts';
import { missing, poll } from './support/peers.ts';
import { createTestSettings, scrapeOnce } from './support/settings.ts';

// The cs_pulse_sensor schema end to end: the libvirt receiver scrapes a hypervisor twice,
// the influxdb exporter writes to a real InfluxDB 1.6.7, and what cs-pulse-sensor's
// dashboards query (its measurements, tags, fields and field types, and the dashboard
// queries themselves) is read back and compared with what virsh prints in the same run,
// on libvirt's test driver and on a real QEMU guest.

const skipInflux = missing('influxd', 'influxdb');
const skipVirsh = missing('virsh', 'libvirt-clients');

function notRoot(): boolean {
  if (process.getuid?.() === 0) return false;
  const message = 'the real-QEMU part needs root (a private network namespace and a daemon run as nobody)';
  if (process.env.CI !== undefined) throw new Error(message);
  console.warn(`skipping: ${message}`);
  return true;
}

const NODE_XML = join(
  import.meta.dirname,
  '..',
  'receivers',
  'libvirt',
  'testdata',
  'fixtures',
  'testnode.xml',
);
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const dir = mkdtempSync(join(tmpdir(), 'inframeter-influx-cs-'));
let influx: Influxd;
let database = 0;

beforeAll(async () => {
  if (!skipInflux) influx = await startInfluxd(join(dir, 'influxd'));
});
afterAll(async () => {
  if (!skipInflux) await influx.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `key  value` or `key: value` lines of a virsh command, as numbers where they are. */
function virshTable(run: (...args: string[]) => string, ...args: string[]): Map<string, string> {
  return new Map(
    run(...args)
      .split('\n')
      // `Key:   value` (dominfo, nodeinfo, freecell) or `key value` (dommemstat).
      .map((l) => /^([^:]+):\s*(.*)$/.exec(l.trim()) ?? /^(\S+)\s+(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
}

function num(table: Map<string, string>, key: string): number {
  const text = table.get(key);
  const n = Number(/^-?[\d.]+/.exec(text ?? '')?.[0]);
  if (text === undefined || !Number.isFinite(n))
    throw new Error(`virsh printed no ${key}: ${JSON.stringify([...table])}`);
  return n;
}

interface Hypervisor {
  readonly uri: string;
  readonly domain: string;
  readonly uuid: string;
  readonly iface: string;
  readonly mac: string;
  /** Whether the driver gives the host's free memory (the test driver answers 0). */
  readonly freeMemory: boolean;
  readonly inactive: readonly string[];
  readonly virsh: (...args: string[]) => string;
}

type Series = { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] };

async function check(h: Hypervisor): Promise<void> {
  database += 1;
  const db = `puls${String(database)}`;
  await influx.query(`CREATE DATABASE ${db}`);
  const settings = createTestSettings('influxdb', 'exporter');
  const exporter = new InfluxdbExporter(
    settings,
    configSchema.parse({ endpoint: influx.url, database: db, schema: 'cs_pulse_sensor' }),
  );
  // Generous deadlines: the first scrape starts the connection's process, slow on a busy machine.
  const scraper = new LibvirtScraper(libvirtConfigSchema.parse({ uris: [h.uri], timeout: '40s' }));
  try {
    await exporter.start();
    const send = (batch: ResourceMetrics) =>
      new Promise<void>((resolve, reject) => {
        exporter.export(batch, (r) => {
          if (r.code === ExportResultCode.SUCCESS) resolve();
          else reject(r.error ?? new Error('export failed'));
        });
      });
    // Scrape, read virsh, scrape again a second later: counters read by virsh lie between.
    const { batch: first, errors, runner } = await scrapeOnce(scraper, 'libvirt', 45_000);
    expect([...errors.values()].map((e) => e.message)).toEqual([]);
    const info = virshTable(h.virsh, 'dominfo', h.domain);
    const memstat = virshTable(h.virsh, 'dommemstat', h.domain);
    const ifstat = new Map(
      h
        .virsh('domifstat', h.domain, h.iface)
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).slice(1) as [string, string]),
    );
    const blkstat = new Map(
      h
        .virsh('domblkstat', h.domain, 'vda')
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).slice(1) as [string, string]),
    );
    const blkinfo = virshTable(h.virsh, 'domblkinfo', h.domain, 'vda');
    const nodeinfo = virshTable(h.virsh, 'nodeinfo');
    // ns; virsh prints libvirt's `kernel` as `system`.
    const nodecpu = virshTable(h.virsh, 'nodecpustats');
    const diskSource = /<disk\b[^>]*device='disk'[\s\S]*?<source (?:file|dev)='([^']+)'/.exec(
      h.virsh('dumpxml', h.domain),
    )?.[1];
    // The test driver's node file has no free memory (virsh freecell fails there).
    const freecell = h.freeMemory ? virshTable(h.virsh, 'freecell') : new Map<string, string>();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { batch: second } = await runner.run(45_000);
    await send(first);
    await send(second);
    await poll('batches written', 60_000, () =>
      Promise.resolve(exporter.status().queuedBatches === 0 ? true : undefined),
    );
    expect(settings.telemetry.counts.failed).toBe(0);

    const q = async (text: string): Promise<Series[]> =>
      (await influx.query(text, db)).results[0]?.series ?? [];
    // The seed's layout: measurements, tag keys, field keys and their types.
    expect((await q('SHOW MEASUREMENTS'))[0]?.values.flat()).toEqual([
      'cpuTime',
      'disk',
      'networkInterface',
      'nodeInfo',
      'rss',
    ]);
    const tagKeys = Object.fromEntries((await q('SHOW TAG KEYS')).map((s) => [s.name, s.values.flat()]));
    const vmTags = ['vmHost', 'vmId', 'vmUuid'];
    expect(tagKeys).toEqual({
      cpuTime: vmTags,
      disk: ['image', 'pool', ...vmTags],
      networkInterface: ['mac', ...vmTags],
      nodeInfo: ['vmHost'],
      rss: vmTags,
    });
    const fieldKeys = Object.fromEntries(
      (await q('SHOW FIELD KEYS')).map((s) => [s.name, Object.fromEntries(s.values as [string, string][])]),
    );
    const integers = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, 'integer']));
    expect(fieldKeys).toEqual({
      cpuTime: { cpuTime: 'float', cpus: 'integer' },
      disk: integers(
        'allocatedSpace',
        'ioErrors',
        'onDiskSpace',
        'readBytes',
        'readIOPS',
        'totalSpace',
        'writeBytes',
        'writeIOPS',
      ),
      networkInterface: integers(
        'readBytes',
        'readDrops',
        'readErrors',
        'readPackets',
        'writeBytes',
        'writeDrops',
        'writeErrors',
        'writePackets',
      ),
      nodeInfo: integers(
        ...(h.freeMemory ? ['freeMem'] : []),
        'idle',
        'iowait',
        'kernel',
        'totalMem',
        'user',
      ),
      rss: integers('maxmem', 'mem', 'rss'),
    });
    const vm = `"vmId" = '${h.domain}'`;
    const vmTagValues = { vmHost: h.uri, vmId: h.domain, vmUuid: h.uuid };
    // Only active domains have lines.
    for (const name of h.inactive)
      expect(await q(`SELECT * FROM "cpuTime" WHERE "vmId" = '${name}'`)).toEqual([]);

    /** The two points of one measurement for the domain, as column → [first, second]. */
    const twoPoints = async (
      measurement: string,
      where = vm,
    ): Promise<{ tags: Record<string, string>; at: (c: string) => [number, number] }> => {
      const [s, ...rest] = await q(`SELECT * FROM "${measurement}" WHERE ${where} GROUP BY *`);
      expect(rest).toEqual([]);
      if (s === undefined) throw new Error(`no ${measurement} for ${where}`);
      expect(s.values).toHaveLength(2);
      return {
        tags: s.tags ?? {},
        at: (column) => {
          const i = s.columns.indexOf(column);
          return [s.values[0]?.[i] as number, s.values[1]?.[i] as number];
        },
      };
    };
    const between = ([a, b]: [number, number], virshValue: number, slack = 0): void => {
      expect(a).toBeLessThanOrEqual(virshValue + slack);
      expect(b).toBeGreaterThanOrEqual(virshValue - slack);
    };
    const fixed = ([a, b]: [number, number], virshValue: number): void => {
      expect([a, b]).toEqual([virshValue, virshValue]);
    };

    const cpu = await twoPoints('cpuTime');
    expect(cpu.tags).toEqual(vmTagValues);
    fixed(cpu.at('cpus'), num(info, 'CPU(s)'));
    // virsh prints the CPU time rounded to 0.1 s.
    between(cpu.at('cpuTime'), num(info, 'CPU time'), 0.05);

    const rss = await twoPoints('rss');
    expect(rss.tags).toEqual(vmTagValues);
    fixed(rss.at('maxmem'), num(info, 'Max memory'));
    fixed(rss.at('mem'), num(info, 'Used memory'));
    // A real QEMU process's RSS moves a little from one moment to the next.
    between(rss.at('rss'), num(memstat, 'rss'), h.freeMemory ? 16 * 1024 : 0);

    const net = await twoPoints('networkInterface');
    expect(net.tags).toEqual({ ...vmTagValues, mac: h.mac });
    for (const [field, key] of [
      ['readBytes', 'rx_bytes'],
      ['readPackets', 'rx_packets'],
      ['readErrors', 'rx_errs'],
      ['readDrops', 'rx_drop'],
      ['writeBytes', 'tx_bytes'],
      ['writePackets', 'tx_packets'],
      ['writeErrors', 'tx_errs'],
      ['writeDrops', 'tx_drop'],
    ] as const)
      between(net.at(field), num(ifstat, key));

    const disk = await twoPoints('disk');
    // cs-pulse-sensor's image and pool: the last two parts of the disk's source path.
    const sourceParts = (diskSource ?? '').split('/');
    expect(disk.tags).toEqual({
      ...vmTagValues,
      image: sourceParts.at(-1),
      pool: sourceParts.at(-2),
    });
    // -1 where the driver does not count I/O errors (QEMU; virsh then prints no errs).
    if (blkstat.has('errs')) between(disk.at('ioErrors'), num(blkstat, 'errs'));
    else fixed(disk.at('ioErrors'), -1);
    for (const [field, key] of [
      ['readIOPS', 'rd_req'],
      ['readBytes', 'rd_bytes'],
      ['writeIOPS', 'wr_req'],
      ['writeBytes', 'wr_bytes'],
    ] as const)
      between(disk.at(field), num(blkstat, key));
    fixed(disk.at('totalSpace'), Math.floor(num(blkinfo, 'Capacity') / GIB));
    fixed(disk.at('allocatedSpace'), Math.floor(num(blkinfo, 'Allocation') / GIB));
    fixed(disk.at('onDiskSpace'), Math.floor(num(blkinfo, 'Physical') / GIB));

    const node = await twoPoints('nodeInfo', `"vmHost" = '${h.uri}'`);
    fixed(node.at('totalMem'), Math.floor(num(nodeinfo, 'Memory size') / 1024));
    // Whole seconds, rounded down (the test driver fixes them; a real host's grow).
    for (const [field, key] of [
      ['kernel', 'system'],
      ['user', 'user'],
      ['idle', 'idle'],
      ['iowait', 'iowait'],
    ] as const)
      between(node.at(field), Math.floor(num(nodecpu, key) / 1e9));
    if (h.freeMemory) {
      // Free memory moves on a busy machine: within 256 MiB of what virsh saw.
      between(node.at('freeMem'), Math.floor(num(freecell, 'Total') / 1024), 256);
    }

    // The dashboard's queries, as written (Grafana's $timeFilter and $interval filled in).
    const timeFilter = 'time > now() - 1h';
    const usedMem = await q(
      `SELECT ("totalMem" - "freeMem") AS "usedMem" FROM "nodeInfo" WHERE ${timeFilter}`,
    );
    const percent = await q(
      `SELECT ("totalMem" - "freeMem") / ("totalMem" /100) FROM "nodeInfo" WHERE ${timeFilter}`,
    );
    if (h.freeMemory) {
      const [total, free] = [node.at('totalMem'), node.at('freeMem')];
      expect(usedMem[0]?.values.map((r) => r[1])).toEqual([total[0] - free[0], total[1] - free[1]]);
      expect(percent[0]?.values.map((r) => r[1])).toEqual([
        (total[0] - free[0]) / (total[0] / 100),
        (total[1] - free[1]) / (total[1] / 100),
      ]);
    }
    const maxRss = await q(
      `SELECT MAX("rss") AS "UsedMem" FROM "rss" WHERE ${timeFilter} GROUP BY time(1h), "vmId" fill(none)`,
    );
    expect(maxRss.find((s) => s.tags?.vmId === h.domain)?.values.map((r) => r[1])).toEqual([
      Math.max(...rss.at('rss')),
    ]);
    // Derivatives need two time buckets: the scrapes are a second apart, so 1s buckets.
    const [c0, c1] = cpu.at('cpuTime');
    const cpuSeries = await q(
      `select NON_NEGATIVE_DERIVATIVE(MAX("cpuTime"),1m) / LAST("cpus") / 60 * 100 as CPU from "cpuTime" WHERE ${timeFilter} group by time(1s), vmId fill(none)`,
    );
    // The first bucket has no derivative: its row is null.
    const cpuRow = cpuSeries.find((s) => s.tags?.vmId === h.domain)?.values.filter((r) => r[1] !== null);
    expect(cpuRow, JSON.stringify(cpuSeries)).toHaveLength(1);
    const times =
      (await q(`SELECT "cpuTime" FROM "cpuTime" WHERE ${vm}`))[0]?.values.map((r) =>
        Math.floor(Date.parse(String(r[0])) / 1000),
      ) ?? [];
    const seconds = (times[1] ?? 0) - (times[0] ?? 0);
    expect(cpuRow?.[0]?.[1]).toBeCloseTo(((((c1 - c0) / seconds) * 60) / num(info, 'CPU(s)') / 60) * 100, 9);
    const iops = await q(
      `SELECT non_negative_derivative(max("writeIOPS"), 1m) / 60 AS "writeIOPs" FROM "disk" WHERE ${timeFilter} GROUP BY time(1s), "vmId" fill(none)`,
    );
    const [w0, w1] = disk.at('writeIOPS');
    expect(
      iops.find((s) => s.tags?.vmId === h.domain)?.values.filter((r) => r[1] !== null)[0]?.[1],
    ).toBeCloseTo((w1 - w0) / seconds, 9);
  } finally {
    await scraper.shutdown();
    await exporter.shutdown();
  }
}

describe.skipIf(skipInflux || skipVirsh)(
  'cs_pulse_sensor schema on libvirt test driver into InfluxDB 1.6.7',
  () => {
    it('writes what virsh prints, in the seed layout, and the dashboard queries answer', async () => {
      const uri = `test://${NODE_XML}`;
      const run = (...args: string[]): string => {
        const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      await check({
        uri,
        domain: 'vm-alpha',
        uuid: '11111111-2222-3333-4444-555555555555',
        iface: 'testnet0',
        mac: '52:54:00:aa:bb:01',
        freeMemory: false,
        inactive: ['vm-beta'],
        virsh: run,
      });
    }, 150_000);
  },
);

const skipQemu = skipInflux || QEMU_DAEMON_TOOLS.some(([binary, pkg]) => missing(binary, pkg)) || notRoot();

describe.skipIf(skipQemu)('cs_pulse_sensor schema on a real QEMU guest into InfluxDB 1.6.7', () => {
  let daemon: QemuDaemon | undefined;
  const guest = {
    name: 'cs-pulse-guest',
    memoryMiB: 64,
    vcpus: 2,
    diskBytes: 16 * MIB,
    mac: '52:54:00:65:43:21',
    tap: 0,
  };
  beforeAll(async () => {
    daemon = await startQemuDaemon(1);
    await daemon.startGuest(guest);
    // Two waits of up to 30 s each: the daemon's socket, the guest's pid file.
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
    // The daemon's stop waits up to 5 s for libvirtd, then up to 30 s for QEMU to go.
  }, 60_000);

  it('writes what virsh prints, in the seed layout, and the dashboard queries answer', async () => {
    if (daemon === undefined) throw new Error('no daemon');
    const d = daemon;
    await check({
      uri: d.uri,
      domain: guest.name,
      uuid: d.virsh('domuuid', guest.name).trim(),
      iface: d.taps[0] ?? 'tap0',
      mac: guest.mac,
      freeMemory: true,
      inactive: [],
      virsh: (...args) => d.virsh(...args),
    });
  }, 150_000);
});
