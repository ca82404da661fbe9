import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { configSchema as ipmiConfig } from '../receivers/ipmi/config.ts';
import { IpmiScraper } from '../receivers/ipmi/scraper.ts';
import { configSchema as libvirtConfig } from '../receivers/libvirt/config.ts';
import { configSchema as prometheusConfig } from '../receivers/prometheus/config.ts';
import { PrometheusReceiver } from '../receivers/prometheus/receiver.ts';
import { createNetSnmpClient } from '../receivers/snmp/client.ts';
import { configSchema as snmpConfig } from '../receivers/snmp/config.ts';
import { SnmpScraper } from '../receivers/snmp/scraper.ts';
import { labConfig } from '../receivers/snmp/testdata/lab.ts';
import type { RunningSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { hasSnmpd, startSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import { placementOf, setPlacement } from '../receivers/libvirt/client.ts';
import type { MetricSink, Receiver, Scraper } from '../kit/component.ts';
import type { ScrapeSchedule } from '../kit/scrape-controller.ts';
import { createScraperReceiver } from '../kit/scrape-controller.ts';
import type { MisbehavingPeer } from './support/misbehaving-peers.ts';
import {
  childProcessCount,
  MISBEHAVIOURS,
  startTcpPeer,
  startUdpPeer,
  threadCount,
} from './support/misbehaving-peers.ts';
import type { IpmiSim } from './support/ipmi-sim.ts';
import { startIpmiSim } from './support/ipmi-sim.ts';
import { missing, poll, rowsOf } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Every receiver that talks to something, beside one peer of each kind of misbehaviour on
// loopback (accepts and never answers, answers a byte a second, closes mid-answer, answers
// garbage) and one healthy target: the healthy target is exported every interval, the
// misbehaving ones only cost their own series, threads and child processes stay bounded,
// and shutdown does not wait on them.

/** A sink that keeps every batch with the time it arrived. */
function recordingSink(): MetricSink & { batches: { at: number; batch: ResourceMetrics }[] } {
  const batches: { at: number; batch: ResourceMetrics }[] = [];
  return {
    batches,
    export(batch, done) {
      batches.push({ at: Date.now(), batch });
      done({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

interface Run {
  readonly sink: ReturnType<typeof recordingSink>;
  readonly receiver: Receiver;
}

function startReceiver(id: string, schedule: ScrapeSchedule, scraper: Scraper | Receiver): Run {
  const sink = recordingSink();
  const receiver =
    'scrape' in scraper
      ? createScraperReceiver(createTestSettings(id, 'receiver'), schedule, scraper)
      : scraper;
  void receiver.start(sink);
  return { sink, receiver };
}

/**
 * Waits for `count` batches after the first in which the healthy target is up (its
 * connection's start on a busy machine is not a fault); each must hold its series.
 */
async function expectEveryInterval(
  run: Run,
  count: number,
  intervalMs: number,
  healthy: (batch: ResourceMetrics) => boolean,
): Promise<void> {
  const first = await poll('the healthy target up', 60_000, () => {
    const i = run.sink.batches.findIndex(({ batch }) => healthy(batch));
    return Promise.resolve(i < 0 ? undefined : i);
  });
  await poll(`${String(count)} batches`, count * intervalMs * 4 + 30_000, () =>
    Promise.resolve(run.sink.batches.length >= first + count ? true : undefined),
  );
  const batches = run.sink.batches.slice(first, first + count);
  batches.forEach(({ batch }, i) => {
    expect(
      healthy(batch),
      `batch ${String(i)}: ${JSON.stringify(rowsOf(batch).filter((r) => r.metric.endsWith('.up')))}`,
    ).toBe(true);
  });
  // No scrape held past its deadline (one interval) by a peer: consecutive batches are about
  // one interval apart. A scrape cut at its deadline already makes a gap of up to two, and a
  // loaded machine's timers add to it (4.05 s seen at 2 s), so the bound is three; a scrape
  // that waited on a trickling peer would be many intervals late.
  for (let i = 1; i < batches.length; i++) {
    const gap = (batches[i]?.at ?? 0) - (batches[i - 1]?.at ?? 0);
    expect(gap).toBeLessThan(intervalMs * 3);
  }
}

/**
 * Shutdown returns within `limitMs` even with peers that never answer (waiting for them would
 * never end); the limit leaves room for a busy machine.
 */
async function expectQuickShutdown(receiver: Receiver, limitMs: number): Promise<void> {
  const started = Date.now();
  await receiver.shutdown();
  expect(Date.now() - started).toBeLessThan(limitMs);
}

const peers: MisbehavingPeer[] = [];
afterAll(async () => {
  for (const p of peers) await p.close();
});

describe.skipIf(missing('virsh', 'libvirt-clients'))('libvirt beside misbehaving hypervisors', () => {
  it('exports test:///default every interval; each bad URI is down; processes bounded; quick shutdown', async () => {
    const bad = await Promise.all(MISBEHAVIOURS.map((kind) => startTcpPeer(kind)));
    peers.push(...bad);
    const uris = bad.map((p) => `qemu+tcp://${p.host}:${String(p.port)}/system`);
    const config = libvirtConfig.parse({
      uris: ['test:///default', ...uris],
      collection_interval: '2s',
      reconnect_delay: '1s',
      max_reconnect_delay: '2s',
    });
    const threadsBefore = await threadCount();
    const run = startReceiver('libvirt', config, new LibvirtScraper(config));
    const intervals = 8;
    await expectEveryInterval(run, intervals, config.collection_interval, (batch) => {
      const rows = rowsOf(batch);
      const up = (uri: string): unknown =>
        rows.find((r) => r.metric === 'inframeter.libvirt.up' && r.attributes['libvirt.uri'] === uri)?.value;
      return (
        up('test:///default') === 1 &&
        uris.every((u) => up(u) === 0) &&
        rows.some(
          (r) =>
            r.metric === 'inframeter.libvirt.domain.state' && r.attributes['libvirt.domain.name'] === 'test',
        )
      );
    });
    // One connection process at most per misbehaving URI, and no thread pile-up.
    expect(await childProcessCount()).toBeLessThanOrEqual(uris.length);
    expect(await threadCount()).toBeLessThanOrEqual(threadsBefore + 4);
    // Every misbehaving peer was tried again after its backoff (not given up on).
    for (const p of bad) expect(p.received()).toBeGreaterThanOrEqual(2);
    await expectQuickShutdown(run.receiver, 20_000);
    // Nothing left behind: every connection process is gone, every socket closed.
    await poll('connection processes gone', 30_000, async () =>
      (await childProcessCount()) === 0 ? true : undefined,
    );
    await poll('peer sockets closed', 30_000, () =>
      Promise.resolve(bad.every((p) => p.open() === 0) ? true : undefined),
    );
  }, 120_000);
});

/** This process's children now (Linux): pid, threads, and whether it is libvirt's shared connection process. */
function children(): { pid: number; threads: number; shared: boolean }[] {
  const out: { pid: number; threads: number; shared: boolean }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      const shared = readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('libvirt/host.');
      out.push({ pid: Number(entry), threads, shared });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

describe.skipIf(missing('virsh', 'libvirt-clients'))(
  'libvirt connections sharing one process beside hung ones',
  () => {
    it('healthy connections export every interval; hung URIs quarantined; processes and threads bounded', async () => {
      // Every connection in the shared process, the test driver's too (two URIs, two states).
      setPlacement('shared');
      try {
        const hung = await Promise.all((['silent', 'trickle'] as const).map((kind) => startTcpPeer(kind)));
        peers.push(...hung);
        const hungUris = hung.map((p) => `qemu+tcp://${p.host}:${String(p.port)}/system`);
        const node = `test://${join(import.meta.dirname, '..', 'receivers', 'libvirt', 'testdata', 'fixtures', 'testnode.xml')}`;
        const healthyUris = ['test:///default', node];
        const config = libvirtConfig.parse({
          uris: [...healthyUris, ...hungUris],
          collection_interval: '5s',
          reconnect_delay: '1s',
          max_reconnect_delay: '5s',
        });
        const threadsBefore = await threadCount();
        const sharedPids = new Set<number>();
        let mostChildren = 0;
        let mostSharedThreads = 0;
        const sample = (): void => {
          const now = children();
          mostChildren = Math.max(mostChildren, now.length);
          for (const c of now.filter((c) => c.shared)) {
            sharedPids.add(c.pid);
            mostSharedThreads = Math.max(mostSharedThreads, c.threads);
          }
        };
        const sampler = setInterval(sample, 250);
        const run = startReceiver('libvirt', config, new LibvirtScraper(config));
        const intervals = 8;
        try {
          await expectEveryInterval(run, intervals, config.collection_interval, (batch) => {
            const rows = rowsOf(batch);
            const up = (uri: string): unknown =>
              rows.find((r) => r.metric === 'inframeter.libvirt.up' && r.attributes['libvirt.uri'] === uri)
                ?.value;
            const domain = (uri: string, name: string): boolean =>
              rows.some(
                (r) =>
                  r.metric === 'inframeter.libvirt.domain.state' &&
                  r.attributes['libvirt.uri'] === uri &&
                  r.attributes['libvirt.domain.name'] === name,
              );
            return (
              healthyUris.every((u) => up(u) === 1) &&
              hungUris.every((u) => up(u) === 0) &&
              domain('test:///default', 'test') &&
              domain(node, 'vm-alpha')
            );
          });
        } finally {
          clearInterval(sampler);
        }
        sample();
        // Each hung URI, once past its deadline, runs in a process of its own; the healthy ones stay shared.
        for (const u of hungUris) expect(placementOf(u), u).toBe('process');
        for (const u of healthyUris) expect(placementOf(u), u).toBe('shared');
        // The shared process was replaced at most once per hung URI (then quarantined), never again.
        expect(sharedPids.size).toBeGreaterThanOrEqual(1);
        expect(sharedPids.size).toBeLessThanOrEqual(1 + hungUris.length);
        // At most two shared processes at once (a retired one while its healthy connections
        // move to the new one) plus one per hung URI; no thread left behind by a hang.
        expect(mostChildren).toBeLessThanOrEqual(2 + hungUris.length);
        const shared = children().filter((c) => c.shared);
        expect(shared).toHaveLength(1);
        expect(shared[0]?.threads).toBeLessThanOrEqual(mostSharedThreads);
        expect(await threadCount()).toBeLessThanOrEqual(threadsBefore + 4);
        for (const p of hung) expect(p.received()).toBeGreaterThanOrEqual(2);
        await expectQuickShutdown(run.receiver, 20_000);
        await poll('connection processes gone', 30_000, async () =>
          (await childProcessCount()) === 0 ? true : undefined,
        );
        await poll('peer sockets closed', 30_000, () =>
          Promise.resolve(hung.every((p) => p.open() === 0) ? true : undefined),
        );
      } finally {
        setPlacement(undefined);
      }
    }, 180_000);
  },
);

describe('prometheus beside misbehaving targets', () => {
  it('scrapes the healthy target every interval; each bad one is up 0 within its deadline', async () => {
    const bad = await Promise.all(MISBEHAVIOURS.map((kind) => startTcpPeer(kind)));
    peers.push(...bad);
    const healthy: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE healthy_value gauge\nhealthy_value 42\n');
    });
    await new Promise<void>((resolve) => healthy.listen(0, '127.0.0.1', resolve));
    const healthyUrl = `http://127.0.0.1:${String((healthy.address() as { port: number }).port)}/metrics`;
    const urls = bad.map((p) => `http://${p.host}:${String(p.port)}/metrics`);
    const config = prometheusConfig.parse({ targets: [healthyUrl, ...urls], collection_interval: '2s' });
    const receiver = new PrometheusReceiver(createTestSettings('prometheus', 'receiver'), config);
    const run = startReceiver('prometheus', config, receiver);
    const targets = 1 + urls.length;
    // One batch per target per interval: 6 intervals' worth, each with the healthy value.
    await poll('6 intervals of batches', 120_000, () =>
      Promise.resolve(run.sink.batches.length >= 6 * targets ? true : undefined),
    );
    for (let i = 0; i < 6; i++) {
      const interval = run.sink.batches.slice(i * targets, (i + 1) * targets);
      const value = interval
        .flatMap(({ batch }) => rowsOf(batch).map((r) => ({ r, url: batch.resource.attributes['url.full'] })))
        .filter(({ url }) => url === healthyUrl);
      expect(value.find(({ r }) => r.metric === 'healthy_value')?.r.value, `interval ${String(i)}`).toBe(42);
    }
    // Each bad target is reported down.
    const last = run.sink.batches.slice(-targets);
    for (const url of urls) {
      const batch = last.find(({ batch }) => batch.resource.attributes['url.full'] === url)?.batch;
      expect(batch === undefined ? undefined : rowsOf(batch).find((r) => r.metric === 'up')?.value, url).toBe(
        0,
      );
    }
    // Consecutive intervals never more than two intervals apart.
    for (let i = targets; i < run.sink.batches.length; i += targets) {
      const gap = (run.sink.batches[i]?.at ?? 0) - (run.sink.batches[i - targets]?.at ?? 0);
      expect(gap).toBeLessThan(2 * config.collection_interval);
    }
    await expectQuickShutdown(run.receiver, 20_000);
    await new Promise((resolve) => healthy.close(resolve));
    await poll('peer sockets closed', 30_000, () =>
      Promise.resolve(bad.every((p) => p.open() === 0) ? true : undefined),
    );
  }, 180_000);
});

describe.skipIf(!hasSnmpd())('snmp beside misbehaving agents', () => {
  let snmpd: RunningSnmpd | undefined;
  afterAll(async () => {
    await snmpd?.stop();
  });

  it('polls snmpd every interval; each bad agent costs only its own series', async () => {
    snmpd = await startSnmpd();
    const bad = await Promise.all(MISBEHAVIOURS.map((kind) => startUdpPeer(kind)));
    peers.push(...bad);
    const lab = labConfig(snmpd.port, [
      // The healthy agent may be slow on a busy machine; the bad ones give up after 400 ms.
      { name: 'lab', profiles: ['lab'], timeout: '1500ms' },
      ...bad.map((p) => ({ name: `bad-${p.kind}`, port: p.port, profiles: ['lab'], timeout: '400ms' })),
    ]);
    const config = snmpConfig.parse({ ...lab, collection_interval: '2s' });
    const run = startReceiver('snmp', config, new SnmpScraper({ config, client: createNetSnmpClient() }));
    await expectEveryInterval(run, 6, config.collection_interval, (batch) => {
      const rows = rowsOf(batch);
      const success = (target: string): unknown =>
        rows.find(
          (r) => r.metric === 'inframeter.snmp.poll.success' && r.attributes['snmp.target'] === target,
        )?.value;
      return (
        rows.some((r) => r.metric === 'hw.power' && r.attributes['snmp.target'] === 'lab') &&
        success('lab') === 1 &&
        bad.every((p) => success(`bad-${p.kind}`) === 0)
      );
    });
    await expectQuickShutdown(run.receiver, 20_000);
  }, 180_000);
});

describe.skipIf(missing('ipmi_sim', 'openipmi') || missing('ipmi-sensors', 'freeipmi-tools'))(
  'ipmi beside misbehaving BMCs',
  () => {
    let sim: IpmiSim | undefined;
    afterAll(() => {
      sim?.stop();
    });

    it('reads ipmi_sim every interval; each bad BMC costs only its own series, no tool left running', async () => {
      sim = await startIpmiSim();
      const bad = await Promise.all(MISBEHAVIOURS.map((kind) => startUdpPeer(kind)));
      peers.push(...bad);
      const config = ipmiConfig.parse({
        username: 'admin',
        password: 'password',
        workarounds: ['opensesspriv'],
        bmc_timeout: '1500ms',
        collection_interval: '3s',
        sdr_cache_directory: `${sim.dir}/sdrcache-peers`,
        targets: [
          { host: `127.0.0.1:${String(sim.port)}`, name: 'lab' },
          ...bad.map((p) => ({ host: `127.0.0.1:${String(p.port)}`, name: `bad-${p.kind}` })),
        ],
      });
      const run = startReceiver('ipmi', config, new IpmiScraper(config));
      await expectEveryInterval(run, 5, config.collection_interval, (batch) => {
        const rows = rowsOf(batch);
        const up = (device: string): unknown =>
          rows.find((r) => r.metric === 'inframeter.ipmi.up' && r.attributes['device.id'] === device)?.value;
        return (
          up('lab') === 1 &&
          rows.some((r) => r.metric === 'hw.temperature' && r.attributes['device.id'] === 'lab') &&
          bad.every((p) => up(`bad-${p.kind}`) === 0)
        );
      });
      await expectQuickShutdown(run.receiver, 20_000);
      // Every ipmi-sensors run was killed at its deadline: none is left.
      await poll('no ipmi-sensors left', 30_000, async () =>
        (await childProcessCount('ipmi-sensors')) === 0 ? true : undefined,
      );
    }, 180_000);
  },
);
