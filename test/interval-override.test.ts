import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Factory, MetricSink } from '../kit/component.ts';
import { factories } from '../service/components.ts';
import { poll } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * An experiment's `--interval` reaches every scraping receiver through one mechanism (the
 * scrape controller's `ScrapeLoop`): configured to scrape once an hour, each one scrapes
 * every 50 ms once asked, and goes back to the hour when the override is lifted. Sources
 * that cannot be reached (a refused port, an absent BMC) still make scrapes, counted by the
 * receiver's telemetry, which is what is measured here.
 */
const dir = mkdtempSync(join(tmpdir(), 'inframeter-interval-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(): string {
  const path = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    path,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  return path;
}

const HOUR = { collection_interval: '1h', initial_delay: '1h' };

/** The smallest config of each scraping receiver that starts on this machine. */
const SCRAPERS: Record<string, () => Record<string, unknown>> = {
  procfs: () => ({ ...HOUR, groups: { filesystem: { enabled: false } } }),
  cgroups: () => ({ ...HOUR }),
  process: () => ({ ...HOUR }),
  libvirt: () => ({ ...HOUR, uris: ['test:///default'] }),
  kubevirt: () => ({
    ...HOUR,
    node_name: 'node-1',
    auth_type: 'kubeconfig',
    kubeconfig: kubeconfig(),
    libvirt: { timeout: '20ms' },
  }),
  snmp: () => ({
    ...HOUR,
    timeout: '1s',
    auth: { c: { version: 'v2c', community: 'public' } },
    targets: [
      { address: '127.0.0.1', port: 1, auth: 'c', profiles: ['if_mib'], timeout: '100ms', retries: 0 },
    ],
  }),
  ipmi: () => ({ ...HOUR, targets: [{ name: 'local' }], bmc_timeout: '1s' }),
  prometheus: () => ({ ...HOUR, targets: ['http://127.0.0.1:1/metrics'], timeout: '1s' }),
};

const discard: MetricSink = {
  export: (_batch, done) => {
    done({ code: ExportResultCode.SUCCESS });
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

const receivers = factories.filter((f): f is Factory & { kind: 'receiver' } => f.kind === 'receiver');

describe('the interval override', () => {
  it('covers every scraping receiver: the registry holds these and the streams', () => {
    const streams = ['kubevirt_logs', 'kwollect', 'otlp', 'wattmetre'];
    expect(receivers.map((f) => f.type).sort()).toEqual([...Object.keys(SCRAPERS), ...streams].sort());
    for (const type of Object.keys(SCRAPERS)) {
      const factory = receivers.find((f) => f.type === type);
      const config = factory?.configSchema.parse(SCRAPERS[type]?.()) as { collection_interval?: unknown };
      expect(config.collection_interval).toBe(3_600_000);
    }
  });

  it.each(Object.keys(SCRAPERS))(
    '%s: an hour apart as configured, every 50 ms while overridden, then the hour again',
    async (type) => {
      const factory = receivers.find((f) => f.type === type);
      if (factory === undefined) throw new Error(`no receiver ${type}`);
      const settings = createTestSettings(type, 'receiver');
      const config = factory.configSchema.parse(SCRAPERS[type]?.());
      const receiver = factory.create(settings, config);
      expect('setCollectionInterval' in receiver).toBe(true);
      await receiver.start(discard);
      try {
        // initial_delay is an hour: nothing yet.
        expect(settings.telemetry.counts.scrapes).toBe(0);
        const overridden = performance.now();
        receiver.setCollectionInterval?.(50);
        await poll(`${type}: 5 scrapes at 50 ms`, 30_000, () =>
          Promise.resolve(settings.telemetry.counts.scrapes >= 5 ? true : undefined),
        );
        // How long an overridden scrape takes on this machine now (a busy one lengthens it).
        const pace = (performance.now() - overridden) / settings.telemetry.counts.scrapes;
        receiver.setCollectionInterval?.(undefined);
        // The scrape in flight (if any) ends; after it, the hour holds.
        await poll(`${type}: settled`, 30_000, () =>
          Promise.resolve(settings.telemetry.counts.scrapes >= 6 ? true : undefined),
        );
        const settled = settings.telemetry.counts.scrapes;
        // Time for three scrapes at that pace, were the override still on: none may come.
        await new Promise((r) => setTimeout(r, Math.max(500, 3 * pace)));
        expect(settings.telemetry.counts.scrapes - settled).toBeLessThanOrEqual(1);
      } finally {
        await receiver.shutdown();
      }
    },
    60_000,
  );
});
