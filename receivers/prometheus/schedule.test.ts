import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricSink } from '../../kit/component.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { poll } from '../../test/support/peers.ts';
import { configSchema } from './config.ts';
import { PrometheusReceiver } from './receiver.ts';

/**
 * The prometheus receiver on the scrape controller's schedule (`ScrapeLoop`): it waits
 * `initial_delay` before its first scrape, and an experiment's interval override changes its
 * pace until it is lifted. Measured at a real HTTP exposition server started here, which
 * records when each scrape reaches it, for each target path.
 */
const EXPOSITION = [
  '# HELP schedule_test_value A value the test knows.',
  '# TYPE schedule_test_value gauge',
  'schedule_test_value 42',
  '',
].join('\n');

let server: Server;
let base = '';
/** Arrival times (performance.now()) of the scrapes, by request path. */
const arrivals = new Map<string, number[]>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    arrivals.set(path, [...(arrivals.get(path) ?? []), performance.now()]);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(EXPOSITION);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A sink that keeps the batches. */
function keeper(): MetricSink & { batches: ResourceMetrics[] } {
  const batches: ResourceMetrics[] = [];
  return {
    batches,
    export: (batch, done) => {
      batches.push(batch);
      done({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** The value of a gauge in a batch. */
function valueOf(batch: ResourceMetrics | undefined, name: string): unknown {
  const metric = batch?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return metric?.dataPoints[0]?.value;
}

const countOf = (path: string): number => arrivals.get(path)?.length ?? 0;
const gapsOf = (times: readonly number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? t));
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

function receiverFor(path: string, schedule: Record<string, string>): PrometheusReceiver {
  const config = configSchema.parse({ targets: [`${base}${path}`], timeout: '5s', ...schedule });
  return new PrometheusReceiver(createTestSettings('prometheus', 'receiver'), config);
}

describe('the prometheus receiver on the scrape controller', () => {
  it('scrapes first after initial_delay, then every collection_interval', async () => {
    const receiver = receiverFor('/delayed', { collection_interval: '200ms', initial_delay: '1500ms' });
    const sink = keeper();
    const started = performance.now();
    await receiver.start(sink);
    try {
      await poll('four scrapes of /delayed', 30_000, () =>
        Promise.resolve(countOf('/delayed') >= 4 && sink.batches.length >= 4 ? true : undefined),
      );
    } finally {
      await receiver.shutdown();
    }
    const times = arrivals.get('/delayed') ?? [];
    // Timers never fire early: not one scrape before the initial delay (1 ms of clock rounding).
    expect((times[0] ?? 0) - started).toBeGreaterThanOrEqual(1499);
    // Then the configured pace, not the delay's: 200 ms apart, give or take a busy machine.
    const gaps = gapsOf(times);
    expect(median(gaps)).toBeGreaterThanOrEqual(150);
    expect(median(gaps)).toBeLessThan(1500);
    expect(valueOf(sink.batches[0], 'schedule_test_value')).toBe(42);
    expect(valueOf(sink.batches[0], 'up')).toBe(1);
  }, 60_000);

  it('scrapes at an experiment’s interval while it is set, and at the configured one again once lifted', async () => {
    const receiver = receiverFor('/override', { collection_interval: '1h', initial_delay: '1h' });
    const sink = keeper();
    await receiver.start(sink);
    try {
      // Nothing during the hour of initial delay, until an experiment asks for 100 ms: at once.
      expect(countOf('/override')).toBe(0);
      receiver.setCollectionInterval(100);
      await poll('six scrapes of /override at 100 ms', 30_000, () =>
        Promise.resolve(countOf('/override') >= 6 ? true : undefined),
      );
      const overridden = [...(arrivals.get('/override') ?? [])];
      const gaps = gapsOf(overridden);
      expect(median(gaps)).toBeGreaterThanOrEqual(80);
      expect(median(gaps)).toBeLessThan(1000);
      expect(valueOf(sink.batches.at(-1), 'schedule_test_value')).toBe(42);

      // Lifted: the scrape in flight, if any, ends; after it the hour holds.
      receiver.setCollectionInterval(undefined);
      let last = countOf('/override');
      let quietSince = performance.now();
      await poll('no scrape of /override for 1 s', 30_000, () => {
        if (countOf('/override') !== last) {
          last = countOf('/override');
          quietSince = performance.now();
        }
        return Promise.resolve(performance.now() - quietSince >= 1000 ? true : undefined);
      });
      // At most the one in flight and the one the change starts on the restored schedule.
      expect(countOf('/override') - overridden.length).toBeLessThanOrEqual(2);
      const settled = countOf('/override');
      // The configured hour again: a second is 10 scrapes at 100 ms, and none now.
      await poll('1 s more of /override', 30_000, () =>
        Promise.resolve(performance.now() - quietSince >= 2000 ? true : undefined),
      );
      expect(countOf('/override')).toBe(settled);
    } finally {
      await receiver.shutdown();
    }
  }, 60_000);
});
