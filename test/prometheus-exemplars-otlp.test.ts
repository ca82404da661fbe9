import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../kit/logger.ts';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import { factories } from '../service/components.ts';
import { createRegistry, loadConfigText } from '../service/config.ts';
import { Service } from '../service/service.ts';
import { ACCEPT_OPENMETRICS, OPENMETRICS, SOURCE, exemplarLines } from './support/openmetrics-exemplars.ts';
import { freePort, poll } from './support/peers.ts';

/**
 * Exemplars across OTLP between two collectors: an OpenMetrics exposition with exemplars
 * (the OpenMetrics specification's examples: counter totals and histogram buckets, with and
 * without timestamps, OpenTelemetry and other trace ids, extra labels) → the first
 * collector's prometheus receiver → its otlp exporter (OTLP/gRPC) → the second collector's
 * otlp receiver → its prometheus exporter, whose OpenMetrics scrape must show the same
 * exemplars on the same samples.
 */

describe('exemplars across OTLP: prometheus receiver → otlp exporter → otlp receiver → prometheus exporter', () => {
  let source: Server | undefined;
  const services: Service[] = [];

  afterAll(async () => {
    for (const service of services.reverse()) await service.shutdown();
    source?.close();
  });

  const start = async (yaml: string, name: string): Promise<void> => {
    const config = loadConfigText(yaml, name, createRegistry(factories), {});
    const service = new Service(
      config,
      createSilentLogger(),
      resourceFromAttributes({ 'service.name': name }),
    );
    services.push(service);
    await service.start();
  };

  it('the second collector shows the source exemplars in OpenMetrics', async () => {
    source = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': OPENMETRICS });
      res.end(SOURCE);
    });
    const server = source;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sourceUrl = `http://127.0.0.1:${String((server.address() as { port: number }).port)}/metrics`;
    const [otlpPort, promPort] = [await freePort(), await freePort()];
    await start(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: '127.0.0.1:${String(otlpPort)}' }
exporters:
  prometheus: { endpoint: '127.0.0.1:${String(promPort)}' }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`,
      'gateway',
    );
    await start(
      `
receivers:
  prometheus:
    collection_interval: 1s
    job: app
    targets: ['${sourceUrl}']
exporters:
  otlp:
    endpoint: 127.0.0.1:${String(otlpPort)}
    tls: { insecure: true }
service:
  pipelines:
    metrics: { receivers: [prometheus], exporters: [otlp] }
`,
      'agent',
    );
    const expected = exemplarLines(parseExposition(SOURCE, 'source', true));
    expect(expected).toHaveLength(5);
    const text = await poll('the gateway exposition with exemplars', 30_000, async () => {
      const response = await fetch(`http://127.0.0.1:${String(promPort)}/metrics`, {
        headers: { accept: ACCEPT_OPENMETRICS },
      });
      const body = await response.text();
      return body.includes('bar_total{') && body.includes('foo_bucket{') ? body : undefined;
    });
    expect(exemplarLines(parseExposition(text, 'gateway', true))).toEqual(expected);
  }, 60_000);
});
