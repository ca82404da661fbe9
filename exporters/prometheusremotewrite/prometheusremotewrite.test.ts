import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestSettings } from '../../test/support/settings.ts';
import type { PostOutcome, RemoteWriteClient } from './client.ts';
import { createRemoteWriteClient } from './client.ts';
import { configSchema } from './config.ts';
import { RemoteWriteExporter } from './prometheusremotewrite.ts';
import { decodeWriteRequest, encodeLabels, encodeWriteRequest } from './proto.ts';
import { waitUntil } from '../../test/support/wait.ts';

/** Requests the exporter posted, decoded: one line per sample, `name{labels} value@ms`. */
class CapturingClient implements RemoteWriteClient {
  readonly bodies: Uint8Array[] = [];
  answer: PostOutcome = { ok: true };

  post(body: Uint8Array): Promise<PostOutcome> {
    this.bodies.push(body);
    return Promise.resolve(this.answer);
  }
  close(): void {}

  samples(): string[] {
    return this.bodies.flatMap((body) => samplesOf(body));
  }
}

function samplesOf(body: Uint8Array): string[] {
  const raw = uncompressSync(Buffer.from(body)) as Buffer;
  const request = decodeWriteRequest(raw);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const staleAt = findStaleMarkers(view);
  return request.timeseries.flatMap((series) => {
    const name = series.labels.find((l) => l.name === '__name__')?.value ?? '';
    const labels = series.labels
      .filter((l) => l.name !== '__name__')
      .map((l) => `${l.name}="${l.value}"`)
      .join(',');
    return series.samples.map(
      (s) =>
        `${name}{${labels}} ${Number.isNaN(s.value) ? (staleAt > 0 ? 'STALE' : 'NaN') : String(s.value)}@${s.timestamp}`,
    );
  });
}

/** How many stale-marker bit patterns a request holds. */
function findStaleMarkers(view: DataView): number {
  let found = 0;
  for (let i = 0; i + 8 <= view.byteLength; i += 1) {
    if (view.getBigUint64(i, true) === 0x7ff0000000000002n) found += 1;
  }
  return found;
}

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

function gauge(
  name: string,
  points: { value: number; at: number; attributes?: Attributes }[],
  unit = '',
): MetricData {
  return {
    descriptor: { name, description: '', unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points.map((p) => ({
      startTime: hr(p.at),
      endTime: hr(p.at),
      attributes: p.attributes ?? {},
      value: p.value,
    })),
  };
}

const resource = resourceFromAttributes({
  'service.name': 'inframeter',
  'host.name': 'n1',
  'os.type': 'linux',
});

function batchOf(...metrics: MetricData[]): ResourceMetrics {
  return { resource, scopeMetrics: [{ scope: { name: 'inframeter/t' }, metrics }] };
}

function exportOf(exporter: RemoteWriteExporter, batch: ResourceMetrics): Promise<ExportResultCode> {
  return new Promise((resolve) => {
    exporter.export(batch, (result) => {
      resolve(result.code);
    });
  });
}

function create(client: CapturingClient, extra: Record<string, unknown> = {}) {
  const settings = createTestSettings('prometheusremotewrite', 'exporter');
  const config = configSchema.parse({
    endpoint: 'http://127.0.0.1:1/api/v1/write',
    retry_on_failure: { initial_interval: '10ms', max_interval: '20ms' },
    ...extra,
  });
  return { exporter: new RemoteWriteExporter(settings, config, { client }), settings };
}

const T = 1_796_000_000_000;

describe('prometheusremotewrite exporter', () => {
  it('writes counters, gauges, histograms and target_info with sorted labels', async () => {
    const client = new CapturingClient();
    const { exporter } = create(client, { shards: 1, external_labels: { cluster: 'c1' } });
    await exporter.start();
    const counter: MetricData = {
      descriptor: { name: 'system.cpu.time', description: '', unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: [
        { startTime: hr(T - 1000), endTime: hr(T), attributes: { 'cpu.mode': 'user' }, value: 12.5 },
      ],
    };
    const histogram: MetricData = {
      descriptor: { name: 'io.latency', description: '', unit: 'ms', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          startTime: hr(T - 1000),
          endTime: hr(T),
          attributes: {},
          value: { buckets: { boundaries: [1, 10], counts: [2, 3, 1] }, count: 6, sum: 40.5 },
        },
      ],
    };
    expect(
      await exportOf(exporter, batchOf(counter, gauge('hw.power', [{ value: 230, at: T }], 'W'), histogram)),
    ).toBe(ExportResultCode.SUCCESS);
    await exporter.forceFlush();
    const common = 'cluster="c1",instance="n1",job="inframeter",otel_scope_name="inframeter/t"';
    const bucket = (le: string): string =>
      `cluster="c1",instance="n1",job="inframeter",le="${le}",otel_scope_name="inframeter/t"`;
    expect(client.samples().sort()).toEqual(
      [
        `system_cpu_time_seconds_total{cluster="c1",cpu_mode="user",instance="n1",job="inframeter",otel_scope_name="inframeter/t"} 12.5@${T}`,
        `hw_power_watts{${common}} 230@${T}`,
        `io_latency_milliseconds_bucket{${bucket('1')}} 2@${T}`,
        `io_latency_milliseconds_bucket{${bucket('10')}} 5@${T}`,
        `io_latency_milliseconds_bucket{${bucket('+Inf')}} 6@${T}`,
        `io_latency_milliseconds_sum{${common}} 40.5@${T}`,
        `io_latency_milliseconds_count{${common}} 6@${T}`,
        `target_info{cluster="c1",host_name="n1",instance="n1",job="inframeter",os_type="linux"} 1@${T}`,
      ].sort(),
    );
    // Labels arrive sorted by name, __name__ first among these.
    const raw = decodeWriteRequest(uncompressSync(Buffer.from(client.bodies[0]!)) as Buffer);
    for (const series of raw.timeseries) {
      const names = series.labels.map((l) => l.name);
      expect(names).toEqual([...names].sort());
    }
    await exporter.shutdown();
  });

  it('marks a series that left its source stale, leaves out old samples, and keeps one series in one shard', async () => {
    const client = new CapturingClient();
    const { exporter, settings } = create(client, { shards: 4, target_info: { enabled: false } });
    await exporter.start();
    const disks = ['a', 'b', 'c', 'd', 'e', 'f'];
    await exportOf(
      exporter,
      batchOf(
        gauge(
          'disk.io',
          disks.map((d, i) => ({ value: i, at: T, attributes: { d } })),
        ),
      ),
    );
    await exporter.forceFlush();
    const firstBodies = client.bodies.length;
    // Disk f is gone; disk a repeats an old timestamp.
    await exportOf(
      exporter,
      batchOf(
        gauge('disk.io', [
          { value: 9, at: T, attributes: { d: 'a' } },
          ...disks.slice(1, 5).map((d, i) => ({ value: i + 10, at: T + 1000, attributes: { d } })),
        ]),
      ),
    );
    await exporter.forceFlush();
    const samples = client.samples();
    expect(samples.filter((s) => s.includes('STALE'))).toEqual([
      `disk_io{d="f",instance="n1",job="inframeter",otel_scope_name="inframeter/t"} STALE@${T + 1000}`,
    ]);
    expect(samples.filter((s) => s.startsWith('disk_io{d="a",'))).toEqual([
      `disk_io{d="a",instance="n1",job="inframeter",otel_scope_name="inframeter/t"} 0@${T}`,
    ]);
    expect(settings.telemetry.counts.dropped.get('out_of_order')).toBe(1);
    // The first batch was spread over several shards, each series in one request of it.
    const first = client.bodies.slice(0, firstBodies);
    expect(first.length).toBeGreaterThan(1);
    expect(first.flatMap((b) => samplesOf(b)).length).toBe(6);
    await exporter.shutdown();
  });

  it('ends the series of a source silent for idle_timeout', async () => {
    const client = new CapturingClient();
    let now = 0;
    const { exporter } = create(client, {
      shards: 1,
      target_info: { enabled: false },
      stale_markers: { idle_timeout: '1s' },
    });
    const idle = new RemoteWriteExporter(
      createTestSettings('prometheusremotewrite', 'exporter'),
      configSchema.parse({
        endpoint: 'http://127.0.0.1:1/api/v1/write',
        shards: 1,
        target_info: { enabled: false },
        stale_markers: { idle_timeout: '1s' },
      }),
      { client, now: () => now, wallClock: () => T + 60_000 },
    );
    await exporter.shutdown();
    await idle.start();
    await exportOf(idle, batchOf(gauge('vm.up', [{ value: 1, at: T }])));
    now = 5000;
    // The sweep runs on a timer of at least a second; wait for its marker.
    const deadline = Date.now() + 30_000;
    while (!client.samples().some((s) => s.includes('STALE')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(client.samples()).toEqual([
      `vm_up{instance="n1",job="inframeter",otel_scope_name="inframeter/t"} 1@${T}`,
      `vm_up{instance="n1",job="inframeter",otel_scope_name="inframeter/t"} STALE@${T + 60_000}`,
    ]);
    await idle.shutdown();
  });

  it('cuts requests at max_samples_per_send without splitting a point', async () => {
    const client = new CapturingClient();
    const { exporter } = create(client, {
      shards: 1,
      max_samples_per_send: 3,
      target_info: { enabled: false },
    });
    await exporter.start();
    const points = Array.from({ length: 7 }, (_, i) => ({ value: i, at: T, attributes: { i: String(i) } }));
    await exportOf(exporter, batchOf(gauge('g', points)));
    await exporter.forceFlush();
    expect(client.bodies.map((b) => samplesOf(b).length)).toEqual([3, 3, 1]);
    await exporter.shutdown();
  });

  it('writes summaries as quantiles, _sum and _count; drops exponential histograms and deltas, counted', async () => {
    const client = new CapturingClient();
    const { exporter, settings } = create(client, {
      shards: 1,
      target_info: { enabled: false },
      without_scope_info: true,
    });
    await exporter.start();
    const sum = (
      name: string,
      value: number,
      temporality = AggregationTemporality.CUMULATIVE,
    ): MetricData => ({
      descriptor: { name, description: '', unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: [{ startTime: hr(T), endTime: hr(T), attributes: {}, value }],
    });
    await exportOf(
      exporter,
      batchOf(
        gauge('rpc_time', [{ value: 0.5, at: T, attributes: { quantile: '0.9' } }], 's'),
        sum('rpc_time_sum', 10),
        sum('rpc_time_count', 4),
        sum('requests', 3, AggregationTemporality.DELTA),
      ),
    );
    await exporter.forceFlush();
    expect(client.samples().sort()).toEqual(
      [
        `rpc_time_seconds{instance="n1",job="inframeter",quantile="0.9"} 0.5@${T}`,
        `rpc_time_seconds_sum{instance="n1",job="inframeter"} 10@${T}`,
        `rpc_time_seconds_count{instance="n1",job="inframeter"} 4@${T}`,
      ].sort(),
    );
    expect(settings.telemetry.counts.dropped.get('delta_temporality')).toBe(1);
    await exporter.shutdown();
  });

  it('retries 5xx and 429, drops other 4xx and counts them failed', async () => {
    const client = new CapturingClient();
    const { exporter, settings } = create(client, { shards: 1 });
    await exporter.start();
    client.answer = { ok: false, status: 503, retryable: true, message: 'HTTP 503' };
    await exportOf(exporter, batchOf(gauge('g', [{ value: 1, at: T }])));
    await waitUntil(() => client.bodies.length >= 3, 'three attempts of the failing batch');
    client.answer = { ok: true };
    await exporter.forceFlush();
    expect(client.bodies.length).toBeGreaterThanOrEqual(4);
    expect(exporter.status().sentPoints).toBe(1);
    client.answer = { ok: false, status: 400, retryable: false, message: 'HTTP 400: out of bounds' };
    const before = client.bodies.length;
    await exportOf(exporter, batchOf(gauge('g', [{ value: 2, at: T + 1000 }])));
    await exporter.forceFlush();
    expect(client.bodies.length).toBe(before + 1);
    expect(settings.telemetry.counts.failed).toBe(1);
    expect(exporter.status().queuedBatches).toBe(0);
    await exporter.shutdown();
  });

  it('keeps undelivered requests on disk and sends the same bytes after a restart', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'inframeter-prw-queue-'));
    try {
      const down = new CapturingClient();
      down.answer = { ok: false, status: 503, retryable: true, message: 'HTTP 503' };
      const queue = { sending_queue: { storage: 'file', directory }, shards: 2 };
      const first = create(down, queue).exporter;
      await first.start();
      await exportOf(
        first,
        batchOf(
          gauge(
            'g',
            ['a', 'b', 'c'].map((k, i) => ({ value: i, at: T, attributes: { k } })),
          ),
        ),
      );
      await first.forceFlush();
      await first.shutdown();
      const up = new CapturingClient();
      const second = create(up, queue).exporter;
      await second.start();
      await second.forceFlush();
      expect(up.samples().sort()).toEqual(
        down
          .samples()
          .sort()
          .filter((x, i, all) => all.indexOf(x) === i),
      );
      expect(up.samples().filter((x) => x.startsWith('g{'))).toHaveLength(3);
      expect(second.status().queuedBatches).toBe(0);
      await second.shutdown();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('shuts down without start, and twice; describes where it sends', async () => {
    const { exporter } = create(new CapturingClient(), {
      sending_queue: { storage: 'file', directory: '/var/q' },
    });
    expect(exporter.describe()).toBe(
      'Prometheus remote write http://127.0.0.1:1/api/v1/write, 4 shards, queue in /var/q',
    );
    await exporter.shutdown();
    await exporter.shutdown();
  });
});

describe('remote-write wire format', () => {
  it('round-trips through protobufjs, stale markers and negative timestamps included', () => {
    const labels = encodeLabels([
      ['__name__', 'up'],
      ['job', 'ünïcødé "x"'],
    ]);
    const bytes = encodeWriteRequest([
      { labels, values: [1, 0.1, Number.NaN, 5], timestamps: [T, T + 1, T + 2, -5], stale: new Set([2]) },
    ]);
    const decoded = decodeWriteRequest(bytes);
    expect(decoded.timeseries).toHaveLength(1);
    expect(decoded.timeseries[0]!.labels).toEqual([
      { name: '__name__', value: 'up' },
      { name: 'job', value: 'ünïcødé "x"' },
    ]);
    expect(decoded.timeseries[0]!.samples.map((s) => s.timestamp)).toEqual([T, T + 1, T + 2, -5]);
    expect(decoded.timeseries[0]!.samples.map((s) => s.value).slice(0, 2)).toEqual([1, 0.1]);
    expect(findStaleMarkers(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength))).toBe(1);
  });
});

describe('remote-write client', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const running = server;
    server = undefined;
    if (running !== undefined)
      await new Promise((resolve) => {
        running.close(resolve);
      });
  });

  it('posts with the protocol headers and classifies answers', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const statuses = [204, 500, 429, 400];
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        const status = statuses.shift() ?? 200;
        if (status === 429) res.setHeader('retry-after', '3');
        res.writeHead(status).end(status >= 400 ? 'nope' : '');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createRemoteWriteClient(
      configSchema.parse({ endpoint: `http://127.0.0.1:${port}/api/v1/write`, auth: { bearer_token: 'tk' } }),
      'inframeter/test',
    );
    const body = new Uint8Array([1, 2, 3]);
    expect(await client.post(body)).toEqual({ ok: true });
    expect(await client.post(body)).toMatchObject({
      ok: false,
      status: 500,
      retryable: true,
      message: 'HTTP 500: nope',
    });
    expect(await client.post(body)).toMatchObject({
      ok: false,
      status: 429,
      retryable: true,
      retryAfterMs: 3000,
    });
    expect(await client.post(body)).toMatchObject({ ok: false, status: 400, retryable: false });
    expect(seen[0]).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'inframeter/test',
      authorization: 'Bearer tk',
      'content-length': '3',
    });
    client.close();
  });

  it('retries when the receiver is not there', async () => {
    const client = createRemoteWriteClient(
      configSchema.parse({ endpoint: 'http://127.0.0.1:1/api/v1/write' }),
      'x',
    );
    expect(await client.post(new Uint8Array([1]))).toMatchObject({
      ok: false,
      status: undefined,
      retryable: true,
    });
    client.close();
  });
});
