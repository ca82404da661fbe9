import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema as libvirtConfig } from '../receivers/libvirt/config.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import type { MetricSink, Receiver, Scraper } from '../service/component.ts';
import type { ScrapeSchedule } from '../service/scrape-controller.ts';
import { createScraperReceiver } from '../service/scrape-controller.ts';
import type { MisbehavingPeer } from './support/misbehaving-peers.ts';
import { childProcessCount, MISBEHAVIOURS, startTcpPeer, threadCount } from './support/misbehaving-peers.ts';
import { missing, poll, rowsOf } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

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

function startReceiver(id: string, schedule: ScrapeSchedule, scraper: Scraper): Run {
  const sink = recordingSink();
  const receiver = createScraperReceiver(createTestSettings(id, 'receiver'), schedule, scraper);
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
  // No interval skipped: consecutive batches are about one interval apart, never two.
  for (let i = 1; i < batches.length; i++) {
    const gap = (batches[i]?.at ?? 0) - (batches[i - 1]?.at ?? 0);
    expect(gap).toBeLessThan(intervalMs * 2);
  }
}

/** Shutdown returns well within the deadline even with peers that never answer. */
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
    await expectQuickShutdown(run.receiver, 5000);
    // Nothing left behind: every connection process is gone, every socket closed.
    await poll('connection processes gone', 20_000, async () =>
      (await childProcessCount()) === 0 ? true : undefined,
    );
    await poll('peer sockets closed', 20_000, () =>
      Promise.resolve(bad.every((p) => p.open() === 0) ? true : undefined),
    );
  }, 120_000);
});
