import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../receivers/prometheus/config.ts';
import { PrometheusReceiver } from '../receivers/prometheus/receiver.ts';
import type { Peer } from './support/peers.ts';
import { freePort, missing, parseSamples, poll, startPeer } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

// The receiver scrapes Debian's prometheus-node-exporter on loopback; values that do not
// move (memory total, build info) must equal what a direct fetch shows in the same run.
const skip = missing('prometheus-node-exporter', 'prometheus-node-exporter');

function point(
  batch: ResourceMetrics | undefined,
  name: string,
): { type: DataPointType | undefined; points: DataPoint<unknown>[] } {
  for (const s of batch?.scopeMetrics ?? [])
    for (const m of s.metrics)
      if (m.descriptor.name === name) return { type: m.dataPointType, points: m.dataPoints };
  return { type: undefined, points: [] };
}

describe.skipIf(skip)('prometheus receiver against prometheus-node-exporter', () => {
  let exporter: Peer | undefined;
  let html: Server | undefined;
  let url = '';
  let htmlUrl = '';

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${String(port)}/metrics`;
    exporter = startPeer('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${String(port)}`,
      '--no-collector.systemd',
    ]);
    await poll('node_exporter', 30_000, async () => ((await fetch(url)).ok ? true : undefined));
    html = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html>\n<html><body>Sign in</body></html>\n');
    });
    await new Promise<void>((resolve) => html?.listen(0, '127.0.0.1', resolve));
    htmlUrl = `http://127.0.0.1:${String((html.address() as { port: number }).port)}/metrics`;
  });

  afterAll(async () => {
    await exporter?.stop();
    html?.close();
  });

  it('maps node_exporter exactly; an exporter answering HTML is its own error', async () => {
    const settings = createTestSettings('prometheus', 'receiver');
    const receiver = new PrometheusReceiver(
      settings,
      configSchema.parse({ targets: [url, { url: htmlUrl, job: 'portal' }], job: 'node' }),
    );
    const [batch, bad] = await receiver.scrapeAll();
    const direct = parseSamples(await (await fetch(url)).text());
    const memTotal = direct.find((s) => s.name === 'node_memory_MemTotal_bytes')?.value;
    const mem = point(batch, 'node_memory_MemTotal_bytes');
    expect(mem.type).toBe(DataPointType.GAUGE);
    expect(mem.points[0]?.value).toBe(memTotal);
    const build = direct.find((s) => s.name === 'node_exporter_build_info');
    expect(point(batch, 'node_exporter_build_info').points[0]?.attributes).toEqual(build?.labels);
    const cpu = point(batch, 'node_cpu_seconds_total');
    expect(cpu.type).toBe(DataPointType.SUM);
    expect(cpu.points.length).toBe(direct.filter((s) => s.name === 'node_cpu_seconds_total').length);
    expect(point(batch, 'up').points[0]?.value).toBe(1);
    expect(batch?.resource.attributes).toMatchObject({
      'service.name': 'node',
      'server.address': '127.0.0.1',
      'url.full': url,
    });
    // The HTML page: up 0, nothing else, and the error names the line.
    expect(point(bad, 'up').points[0]?.value).toBe(0);
    expect(bad?.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name)).toEqual([
      'up',
      'scrape_duration_seconds',
      'scrape_samples_scraped',
    ]);
    expect(bad?.resource.attributes['service.name']).toBe('portal');
    expect(settings.telemetry.counts.scrapes).toBeGreaterThanOrEqual(2);
  });

  it('counters only go up between scrapes', async () => {
    const receiver = new PrometheusReceiver(
      createTestSettings('prometheus', 'receiver'),
      configSchema.parse({ targets: [url], keep_metric_names: ['node_cpu_seconds_total'] }),
    );
    const [first] = await receiver.scrapeAll();
    await new Promise((r) => setTimeout(r, 1100));
    const [second] = await receiver.scrapeAll();
    const a = point(first, 'node_cpu_seconds_total').points;
    const b = point(second, 'node_cpu_seconds_total').points;
    expect(a.length).toBeGreaterThan(0);
    expect(first?.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name)).toEqual([
      'node_cpu_seconds_total',
      'up',
      'scrape_duration_seconds',
      'scrape_samples_scraped',
    ]);
    a.forEach((p, i) => {
      expect(b[i]?.attributes).toEqual(p.attributes);
      expect(b[i]?.value as number).toBeGreaterThanOrEqual(p.value as number);
    });
  });

  it('drops families by exact name under metrics:, and a family switched on passes keep_metric_names', async () => {
    const receiver = new PrometheusReceiver(
      createTestSettings('prometheus', 'receiver'),
      configSchema.parse({
        targets: [url],
        keep_metric_names: ['node_cpu_.*', 'node_load1'],
        metrics: {
          node_cpu_seconds_total: { enabled: false },
          node_boot_time_seconds: { enabled: true },
          scrape_samples_scraped: { enabled: false },
        },
      }),
    );
    const [batch] = await receiver.scrapeAll();
    const names = batch?.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name) ?? [];
    expect(names).toContain('node_load1');
    expect(names).toContain('node_boot_time_seconds');
    expect(names).not.toContain('node_cpu_seconds_total');
    expect(names.slice(-2)).toEqual(['up', 'scrape_duration_seconds']);
    for (const name of names.slice(0, -2))
      expect(name === 'node_boot_time_seconds' || /^(node_cpu_.*|node_load1)$/.test(name)).toBe(true);
  });
});
