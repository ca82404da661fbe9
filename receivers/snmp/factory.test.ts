import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { MetricSink } from '../../kit/component.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import { snmpFactory } from './factory.ts';
import { freeUdpPort } from './testdata/snmpd.ts';
import { toGolden, valueOf } from './testdata/golden.ts';

describe('snmpFactory', () => {
  it('shuts down without start, and twice', async () => {
    const receiver = snmpFactory.create(
      createTestSettings('snmp', 'receiver'),
      snmpFactory.configSchema.parse({}),
    );
    await receiver.shutdown();
    await receiver.shutdown();
  });

  it('polls on its schedule through net-snmp and reports a silent agent as a failed poll', async () => {
    // A port nothing listens on: requests go unanswered.
    const port = await freeUdpPort();
    const settings = createTestSettings('snmp/silent', 'receiver');
    // A second apart: far from the default 10 s, and a scrape deadline (the interval) far from
    // the two 50 ms attempts, so that a busy machine's timer lag is not mistaken for either.
    const config = snmpFactory.configSchema.parse({
      collection_interval: '1s',
      targets: [
        {
          name: 'silent',
          address: '127.0.0.1',
          port,
          auth: { version: 'v2c', community: 'public' },
          profiles: ['if_mib'],
          timeout: '50ms',
          retries: 1,
        },
      ],
    });
    const receiver = snmpFactory.create(settings, config);
    const batches: ResourceMetrics[] = [];
    let arrived: () => void = () => undefined;
    const twoBatches = new Promise<void>((resolve) => (arrived = resolve));
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        if (batches.length === 2) arrived();
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const started = performance.now();
    await receiver.start(sink);
    await twoBatches;
    await receiver.shutdown();
    await receiver.shutdown();
    // Two polls on a 1 s schedule, not on the default 10 s one.
    expect(performance.now() - started).toBeLessThan(5000);
    const metrics = toGolden(batches[1] as ResourceMetrics);
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', { 'snmp.target': 'silent' })).toBe(0);
    expect(valueOf(metrics, 'inframeter.snmp.poll.errors', { 'error.type': 'timeout' })).toBe(2);
    const duration = valueOf(metrics, 'inframeter.snmp.poll.duration', { 'snmp.target': 'silent' }) ?? 0;
    // Two attempts of 50 ms each: not the default 2 s timeout, cut at the 1 s scrape deadline.
    expect(duration).toBeGreaterThanOrEqual(0.09);
    expect(duration).toBeLessThan(0.5);
    expect(metrics.map((m) => m.name)).not.toContain('hw.network.io');
    expect(settings.telemetry.counts.scrapes).toBeGreaterThanOrEqual(2);
  });
});
