import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema as exporterConfig } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { configSchema as receiverConfig } from '../receivers/prometheus/config.ts';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import { PrometheusReceiver } from '../receivers/prometheus/receiver.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { factories } from '../service/components.ts';
import { createRegistry, loadConfigText } from '../service/config.ts';
import { Service } from '../service/service.ts';
import type { Peer } from './support/peers.ts';
import { freePort, missing, poll, startPeer } from './support/peers.ts';
import {
  ACCEPT_OPENMETRICS,
  OPENMETRICS,
  SOURCE,
  SPAN,
  TRACE,
  exemplarLines,
} from './support/openmetrics-exemplars.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * Exemplars and target metadata through the prometheus receiver and exporter: an OpenMetrics
 * exposition written from the OpenMetrics specification's examples (exemplars on counter
 * totals and histogram buckets, with and without timestamps and trace ids, and a `target`
 * info family) is served over HTTP, scraped by the receiver and handed to the exporter; the
 * exporter's OpenMetrics scrape must show the same exemplars and give the target's
 * `target_info` labels back, its text scrape must satisfy promtool, and a real Prometheus with
 * exemplar storage must store the same exemplars.
 */

const noPromtool = missing('promtool', 'prometheus');
const noPrometheus = missing('prometheus', 'prometheus');

describe('exemplars and target_info: OpenMetrics source → prometheus receiver → prometheus exporter', () => {
  let dir = '';
  let source: Server | undefined;
  let sourceUrl = '';
  let batch: ResourceMetrics | undefined;
  const exporter = new PrometheusExporter(
    createTestSettings('prometheus', 'exporter'),
    exporterConfig.parse({ endpoint: '127.0.0.1:0' }),
  );
  let exporterUrl = '';

  const scrapeExporter = async (accept: string): Promise<{ contentType: string; text: string }> => {
    const response = await fetch(exporterUrl, { headers: { accept } });
    expect(response.status).toBe(200);
    return { contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-exemplars-'));
    source = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': OPENMETRICS });
      res.end(SOURCE);
    });
    const server = source;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sourceUrl = `http://127.0.0.1:${String((server.address() as { port: number }).port)}/metrics`;
    const receiver = new PrometheusReceiver(
      createTestSettings('prometheus', 'receiver'),
      receiverConfig.parse({ targets: [sourceUrl], job: 'app' }),
    );
    [batch] = await receiver.scrapeAll();
    await receiver.shutdown();
    await exporter.start();
    const received = batch;
    if (received !== undefined)
      await new Promise<void>((resolve) => {
        exporter.export(received, () => {
          resolve();
        });
      });
    exporterUrl = `http://127.0.0.1:${String(exporter.address()?.port ?? 0)}/metrics`;
  });

  afterAll(async () => {
    await exporter.shutdown();
    source?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('the target was scraped, and its target_info became resource attributes, not a metric', () => {
    const metrics = batch?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
    expect(metrics.find((m) => m.descriptor.name === 'up')?.dataPoints[0]?.value).toBe(1);
    expect(metrics.map((m) => m.descriptor.name)).not.toContain('target_info');
    expect(batch?.resource.attributes).toMatchObject({
      env: 'prod',
      region: 'eu-west',
      hostname: 'app-1',
      team: 'a b "c"',
      'service.name': 'app',
    });
  });

  it('the OpenMetrics scrape shows the same exemplars on the same samples', async () => {
    const { contentType, text } = await scrapeExporter(ACCEPT_OPENMETRICS);
    expect(contentType).toContain('application/openmetrics-text');
    const expected = exemplarLines(parseExposition(SOURCE, 'source', true));
    expect(expected).toEqual([
      `bar_total{path="/a"} # {trace_id="KOO5S4vxi0o"} 0.67 1520879602890`,
      `bar_total{path="/b"} # {span_id="${SPAN}",trace_id="${TRACE}",user="u1"} 1 1700000000500`,
      'foo_bucket{le="0.1"} # {} 0.054 undefined',
      'foo_bucket{le="1"} # {trace_id="KOO5S4vxi0o"} 0.67 undefined',
      'foo_bucket{le="10"} # {trace_id="oHg5SJYRHA0"} 9.8 1520879607789',
    ]);
    expect(exemplarLines(parseExposition(text, exporterUrl, true))).toEqual(expected);
  });

  it("the target's target_info labels come back unchanged, with the target's job, instance and address", async () => {
    const { text } = await scrapeExporter(ACCEPT_OPENMETRICS);
    const target = parseExposition(text, exporterUrl, true).find((f) => f.name === 'target');
    expect(target?.type).toBe('info');
    expect(target?.samples).toHaveLength(1);
    const url = new URL(sourceUrl);
    expect(target?.samples[0]?.labels).toEqual({
      env: 'prod',
      region: 'eu-west',
      hostname: 'app-1',
      team: 'a b "c"',
      job: 'app',
      instance: url.host,
      server_address: url.hostname,
      server_port: url.port,
      url_scheme: 'http',
      url_full: sourceUrl,
      // The collector's own resource attributes, which the receiver adds to every target's.
      host_name: 'test-host',
    });
  });

  it.skipIf(noPromtool)(
    'the text scrape has no exemplars, and promtool check metrics accepts it',
    async () => {
      const { contentType, text } = await scrapeExporter('text/plain;version=0.0.4');
      expect(contentType).toContain('text/plain');
      expect(text).not.toContain(' # {');
      expect(text).toContain('bar_total{');
      const file = join(dir, 'exposition.txt');
      writeFileSync(file, text);
      const run = spawnSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' });
      expect(`${run.stdout}${run.stderr}`).toBe('');
      expect(run.status).toBe(0);
    },
  );

  describe.skipIf(noPrometheus)('scraped by a real Prometheus with exemplar storage', () => {
    let prometheus: Peer | undefined;
    let api = '';

    interface ExemplarSeries {
      seriesLabels: Record<string, string>;
      exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
    }

    beforeAll(async () => {
      const port = await freePort();
      api = `http://127.0.0.1:${String(port)}`;
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, scrape_timeout: 1s }',
          'scrape_configs:',
          '  - job_name: gateway',
          `    static_configs: [{ targets: ['${new URL(exporterUrl).host}'] }]`,
          '',
        ].join('\n'),
      );
      prometheus = startPeer('prometheus', [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${String(port)}`,
        '--enable-feature=exemplar-storage',
      ]);
      const peer = prometheus;
      await poll('Prometheus ready', 30_000, async () => {
        if (peer.child.exitCode !== null) throw new Error(`prometheus exited:\n${peer.output()}`);
        const response = await fetch(`${api}/-/ready`);
        await response.text();
        return response.ok ? true : undefined;
      });
    }, 60_000);

    afterAll(async () => {
      await prometheus?.stop();
    });

    /** The exemplars Prometheus holds for `query`, once it has `count` series of them. */
    const exemplarsOf = (query: string, count: number): Promise<ExemplarSeries[]> =>
      poll(`exemplars of ${query}`, 30_000, async () => {
        const params = new URLSearchParams({
          query,
          start: '1500000000',
          end: String(Math.ceil(Date.now() / 1000) + 60),
        });
        const response = await fetch(`${api}/api/v1/query_exemplars?${params.toString()}`);
        const body = (await response.json()) as { status: string; data: ExemplarSeries[] | null };
        const data = body.data ?? [];
        return body.status === 'success' && data.length >= count ? data : undefined;
      });

    it('stores the counter exemplars with their labels, values and timestamps', async () => {
      const series = await exemplarsOf('bar_total{job="gateway"}', 2);
      const got = series
        .map((s) => [s.seriesLabels.path, s.exemplars.map((e) => [e.labels, e.value, e.timestamp])])
        .sort();
      expect(got).toEqual([
        ['/a', [[{ trace_id: 'KOO5S4vxi0o' }, '0.67', 1520879602.89]]],
        ['/b', [[{ trace_id: TRACE, span_id: SPAN, user: 'u1' }, '1', 1700000000.5]]],
      ]);
    }, 60_000);

    it('stores the histogram bucket exemplars on the same buckets', async () => {
      const series = await exemplarsOf('foo_bucket{job="gateway"}', 3);
      const got = series.map((s) => [s.seriesLabels.le, s.exemplars.map((e) => [e.labels, e.value])]).sort();
      expect(got).toEqual([
        ['0.1', [[{}, '0.054']]],
        ['1', [[{ trace_id: 'KOO5S4vxi0o' }, '0.67']]],
        ['10', [[{ trace_id: 'oHg5SJYRHA0' }, '9.8']]],
      ]);
      const timed = series.find((s) => s.seriesLabels.le === '10')?.exemplars[0]?.timestamp;
      expect(timed).toBe(1520879607.789);
    }, 60_000);

    it("keeps the target's target_info labels", async () => {
      const result = await poll('target_info', 30_000, async () => {
        const response = await fetch(
          `${api}/api/v1/query?query=${encodeURIComponent('target_info{job="gateway"}')}`,
        );
        const body = (await response.json()) as { data: { result: { metric: Record<string, string> }[] } };
        return body.data.result.length > 0 ? body.data.result : undefined;
      });
      expect(result).toHaveLength(1);
      expect(result[0]?.metric).toMatchObject({
        env: 'prod',
        region: 'eu-west',
        hostname: 'app-1',
        team: 'a b "c"',
        exported_job: 'app',
      });
    }, 60_000);
  });
});

describe('exemplars through the service: prometheus receiver → relabel → batch → prometheus exporter', () => {
  let source: Server | undefined;
  let service: Service | undefined;

  afterAll(async () => {
    await service?.shutdown();
    source?.close();
  });

  it('the OpenMetrics scrape of the pipeline shows the source exemplars on the relabelled series', async () => {
    source = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': OPENMETRICS });
      res.end(SOURCE);
    });
    const server = source;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sourceUrl = `http://127.0.0.1:${String((server.address() as { port: number }).port)}/metrics`;
    const port = await freePort();
    const yaml = `
receivers:
  prometheus:
    collection_interval: 1s
    job: app
    targets: ['${sourceUrl}']
processors:
  relabel:
    metrics: [{ match: 'bar_total|foo', labels: { site: lab } }]
  batch: { timeout: 200ms }
exporters:
  prometheus: { endpoint: '127.0.0.1:${String(port)}' }
service:
  pipelines:
    metrics:
      receivers: [prometheus]
      processors: [relabel, batch]
      exporters: [prometheus]
`;
    const config = loadConfigText(yaml, 'exemplars.yaml', createRegistry(factories), {});
    service = new Service(
      config,
      createSilentLogger(),
      resourceFromAttributes({ 'service.name': 'inframeter' }),
    );
    await service.start();
    const text = await poll('the pipeline exposition', 30_000, async () => {
      const response = await fetch(`http://127.0.0.1:${String(port)}/metrics`, {
        headers: { accept: ACCEPT_OPENMETRICS },
      });
      const body = await response.text();
      return body.includes('bar_total{') ? body : undefined;
    });
    const families = parseExposition(text, 'pipeline', true);
    const withoutSite = exemplarLines(families).map((line) => line.replace(',site="lab"', ''));
    expect(withoutSite).toEqual(exemplarLines(parseExposition(SOURCE, 'source', true)));
    expect(exemplarLines(families).every((line) => line.includes('site="lab"'))).toBe(true);
  }, 60_000);
});
