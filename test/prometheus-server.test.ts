import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, poll } from './support/peers.ts';
import { configSchema } from '../exporters/prometheus/config.ts';
import { renderExposition } from '../kit/prometheus/exposition.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { createKnownBatches } from '../exporters/prometheus/testdata/fixtures/known-batch.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * The prometheus exporter scraped by Debian's real Prometheus server: the values its query
 * API returns must be exactly the ones exported, through OpenMetrics (what Prometheus asks
 * for) and through the text format (an exporter with OpenMetrics disabled). promtool checks
 * the text exposition of realistic batches.
 */

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const missing = [PROMETHEUS, PROMTOOL].filter((path) => !existsSync(path));
const skip = missing.length > 0 && process.env.CI === undefined;
if (skip) {
  console.warn(
    `prometheus-server tests skipped: ${missing.join(', ')} missing; install the Debian package prometheus (apt-get install prometheus)`,
  );
}

/** A reader that collects only when the test asks. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A batch from the SDK: a counter at 42, a gauge with attributes at 21.5, and a histogram of
 * five values (0.25, 0.375, 0.375, 0.75, 2 s; binary fractions so the sum is exact).
 */
async function createSdkBatch(): Promise<ResourceMetrics> {
  const reader = new TestReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'inframeter',
      'service.instance.id': 'it-1',
      'host.name': 'it-host',
      'os.type': 'linux',
    }),
    readers: [reader],
  });
  const meter = provider.getMeter('inframeter/it', '1.0.0');
  meter
    .createCounter('it.requests', { unit: '{request}', description: 'Requests served.' })
    .add(42, { 'http.route': '/a' });
  meter
    .createGauge('it.temperature', { unit: 'Cel', description: 'Sensor temperature.' })
    .record(21.5, { sensor: 'inlet', 'rack.id': 'r1' });
  const latency = meter.createHistogram('it.latency', {
    unit: 's',
    description: 'Request latency.',
    advice: { explicitBucketBoundaries: [0.1, 0.5, 1] },
  });
  for (const value of [0.25, 0.375, 0.375, 0.75, 2]) latency.record(value, { 'http.route': '/a' });
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  await provider.shutdown();
  return resourceMetrics;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(skip)('prometheus exporter scraped by a real Prometheus server', () => {
  let dir = '';
  const exporters: Record<'om' | 'text', PrometheusExporter> = {
    om: new PrometheusExporter(
      createTestSettings('prometheus/om', 'exporter'),
      configSchema.parse({ endpoint: '127.0.0.1:0' }),
    ),
    text: new PrometheusExporter(
      createTestSettings('prometheus/text', 'exporter'),
      configSchema.parse({ endpoint: '127.0.0.1:0', enable_open_metrics: false }),
    ),
  };
  let server: ChildProcess | undefined;
  let serverLog = '';
  let api = '';
  let sdkBatch: ResourceMetrics;

  async function query(expr: string): Promise<Sample[]> {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data: { result: Sample[] } };
    expect(body.status).toBe('success');
    return body.data.result;
  }

  /** The one sample an expression selects, once Prometheus has it. */
  async function only(expr: string): Promise<Sample> {
    const result = await poll(expr, 30_000, async () => {
      const samples = await query(expr);
      return samples.length > 0 ? samples : undefined;
    });
    expect(result).toHaveLength(1);
    return result[0]!;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-prometheus-'));
    sdkBatch = await createSdkBatch();
    const targets: Record<string, string> = {};
    for (const [job, exporter] of Object.entries(exporters)) {
      await exporter.start();
      await new Promise<void>((resolve) => {
        exporter.export(sdkBatch, () => {
          resolve();
        });
      });
      targets[job] = `127.0.0.1:${exporter.address()?.port ?? 0}`;
    }
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        ...Object.entries(targets).flatMap(([job, target]) => [
          `  - job_name: ${job}`,
          '    static_configs:',
          `      - targets: ['${target}']`,
        ]),
        '',
      ].join('\n'),
    );
    server = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    server.stderr?.on('data', (chunk: Buffer) => {
      serverLog = (serverLog + chunk.toString('utf8')).slice(-20_000);
    });
    await poll('Prometheus ready', 30_000, async () => {
      if (server?.exitCode !== null) throw new Error(`prometheus exited:\n${serverLog}`);
      const response = await fetch(`${api}/-/ready`);
      await response.text();
      return response.ok ? true : undefined;
    });
  });

  afterAll(async () => {
    const child = server;
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await Promise.all(Object.values(exporters).map((e) => e.shutdown()));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  describe.each(['om', 'text'] as const)('through the %s exposition', (job) => {
    it('scrapes the target successfully', async () => {
      const up = await only(`up{job="${job}"}`);
      expect(up.value[1]).toBe('1');
    });

    it('has the counter with its value and labels', async () => {
      const sample = await only(`it_requests_total{job="${job}"}`);
      expect(sample.value[1]).toBe('42');
      const { instance, ...labels } = sample.metric;
      expect(labels).toEqual({
        __name__: 'it_requests_total',
        job,
        exported_job: 'inframeter',
        exported_instance: 'it-1',
        http_route: '/a',
        otel_scope_name: 'inframeter/it',
        otel_scope_version: '1.0.0',
      });
      expect(instance).toBe(`127.0.0.1:${exporters[job].address()?.port ?? 0}`);
    });

    it('has the gauge with its attributes as labels', async () => {
      const sample = await only(`it_temperature_celsius{job="${job}",sensor="inlet",rack_id="r1"}`);
      expect(sample.value[1]).toBe('21.5');
    });

    it('has the histogram buckets, sum and count', async () => {
      const buckets = await poll(`it_latency_seconds_bucket{job="${job}"}`, 30_000, async () => {
        const samples = await query(`it_latency_seconds_bucket{job="${job}"}`);
        return samples.length === 4 ? samples : undefined;
      });
      expect(Object.fromEntries(buckets.map((s) => [s.metric.le, s.value[1]]))).toEqual({
        '0.1': '0',
        '0.5': '3',
        '1': '4',
        '+Inf': '5',
      });
      expect((await only(`it_latency_seconds_sum{job="${job}"}`)).value[1]).toBe('3.75');
      expect((await only(`it_latency_seconds_count{job="${job}"}`)).value[1]).toBe('5');
    });

    it('has the metadata of the format: UNIT only through OpenMetrics', async () => {
      const selector = encodeURIComponent(`{job="${job}"}`);
      const metadata = await poll('target metadata', 30_000, async () => {
        const response = await fetch(
          `${api}/api/v1/targets/metadata?match_target=${selector}&metric=it_latency_seconds`,
        );
        const body = (await response.json()) as { data: { type: string; unit: string; help: string }[] };
        return body.data.length > 0 ? body.data : undefined;
      });
      expect(metadata.map(({ type, unit, help }) => ({ type, unit, help }))).toEqual([
        { type: 'histogram', unit: job === 'om' ? 'seconds' : '', help: 'Request latency.' },
      ]);
    });

    it('has target_info with the resource attributes', async () => {
      const sample = await only(`target_info{job="${job}"}`);
      expect(sample.value[1]).toBe('1');
      expect(sample.metric).toMatchObject({
        exported_job: 'inframeter',
        host_name: 'it-host',
        os_type: 'linux',
      });
    });
  });

  it('gives promtool a clean text exposition of realistic batches', () => {
    for (const batches of [[sdkBatch], createKnownBatches(), [sdkBatch, ...createKnownBatches()]]) {
      for (const timestamps of [false, true]) {
        const exposition = renderExposition(batches, { timestamps });
        const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
        expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
          status: 0,
          stdout: '',
          stderr: '',
        });
      }
    }
  });

  it('makes promtool report a lint problem it should (the check can fail)', () => {
    const result = spawnSync(PROMTOOL, ['check', 'metrics'], {
      input: '# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n',
      encoding: 'utf8',
    });
    expect(result.status).toBe(3);
    expect(result.stdout + result.stderr).toContain('counter metrics should have "_total" suffix');
  });
});
