import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpTypes } from '../kit/otlp/proto.ts';
import { Collectors, csvRecords, waitFor } from './support/collectors.ts';
import { freePort } from './support/peers.ts';

/**
 * Integers beyond 2^53 end to end, with real processes on loopback: a sender posts OTLP
 * requests written with protobufjs (protobuf) and as OTLP/JSON text, int64 as decimal strings,
 * to an inframeter agent (otlp receiver over HTTP → relabel with `scale_factor: 1` → resource →
 * batch → otlp exporter over gRPC), which
 * sends them to an inframeter gateway (otlp receiver over gRPC → batch → otlp exporter over
 * HTTP, csv, prometheus). An OTLP/HTTP sink in this test decodes what the gateway sends with
 * protobufjs, the oracle: every `as_int`, time, attribute, the resource and the scope come out
 * bit for bit; the CSV file and the Prometheus endpoint show the same integers in full digits.
 */

const VALUES: readonly bigint[] = [
  0n,
  -1n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  -(2n ** 53n - 1n),
  -(2n ** 53n),
  -(2n ** 53n + 1n),
  2n ** 62n + 1n,
  -(2n ** 63n),
  2n ** 63n - 1n,
];
const START = '1764000000000000001';
const TIME = '1764003600123456789';
const RESOURCE = [
  { key: 'service.name', value: { stringValue: 'int64-sender' } },
  { key: 'host.name', value: { stringValue: 'node-7' } },
];
const SCOPE = { name: 'int64-scope', version: '1.2.3' };

type Json = Record<string, unknown>;

/** A request with one integer metric, one point per value (attribute `i`: its index). */
function request(name: string, kind: 'sum' | 'gauge'): Json {
  const dataPoints = VALUES.map((v, i) => ({
    attributes: [{ key: 'i', value: { intValue: String(i) } }],
    startTimeUnixNano: START,
    timeUnixNano: TIME,
    asInt: v.toString(),
    // The last point also carries every value as an exemplar.
    ...(i === VALUES.length - 1
      ? { exemplars: VALUES.map((e) => ({ asInt: e.toString(), timeUnixNano: TIME })) }
      : {}),
  }));
  const data =
    kind === 'sum'
      ? { sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } }
      : { gauge: { dataPoints } };
  return {
    resourceMetrics: [
      {
        resource: { attributes: RESOURCE },
        scopeMetrics: [{ scope: SCOPE, metrics: [{ name, unit: '{item}', ...data }] }],
      },
    ],
  };
}

interface SinkPoint {
  attributes: Json[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asInt?: string;
  asDouble?: number;
  exemplars?: { asInt?: string; asDouble?: number; timeUnixNano: string }[];
}
interface SinkMetric {
  name: string;
  sum?: { dataPoints: SinkPoint[] };
  gauge?: { dataPoints: SinkPoint[] };
}
interface SinkRequest {
  resourceMetrics: {
    resource: { attributes: Json[] };
    scopeMetrics: { scope: Json; metrics: SinkMetric[] }[];
  }[];
}

/** An OTLP/HTTP receiver that decodes every request with protobufjs, int64 as decimal strings. */
async function startSink(port: number): Promise<{ server: Server; requests: SinkRequest[] }> {
  const requests: SinkRequest[] = [];
  const type = otlpTypes.ExportMetricsServiceRequest;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      requests.push(type.toObject(type.decode(body), { longs: String, defaults: false }) as SinkRequest);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, requests };
}

/** Every point the sink received for metric `name`, with its resource and scope. */
function received(requests: readonly SinkRequest[], name: string) {
  const out: { resource: Json[]; scope: Json; point: SinkPoint }[] = [];
  for (const r of requests)
    for (const rm of r.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics)
          if (m.name === name)
            for (const point of (m.sum ?? m.gauge)?.dataPoints ?? [])
              out.push({ resource: rm.resource.attributes, scope: sm.scope, point });
  return out;
}

const collectors = new Collectors();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  collectors.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('integers beyond 2^53 through agent → gateway (two processes)', () => {
  it(
    'keep every as_int, time, attribute, resource and scope bit for bit out of OTLP, and in full digits in CSV and Prometheus',
    { timeout: 180_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'inframeter-int64-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const [agentHttp, gatewayGrpc, sinkPort, promPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      const sink = await startSink(sinkPort);
      cleanups.push(
        () =>
          new Promise<void>((resolve) =>
            sink.server.close(() => {
              resolve();
            }),
          ),
      );
      const csvPath = join(dir, 'gateway.csv');
      const agentConfig = join(dir, 'agent.yaml');
      const gatewayConfig = join(dir, 'gateway.yaml');
      await writeFile(
        agentConfig,
        `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${agentHttp}
processors:
  relabel:
    metrics:
      - match: 'int64\\..*'
        scale_factor: 1
  resource: {}
  batch: {}
exporters:
  otlp:
    endpoint: 127.0.0.1:${gatewayGrpc}
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [relabel, resource, batch]
      exporters: [otlp]
`,
      );
      await writeFile(
        gatewayConfig,
        `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${gatewayGrpc}
processors:
  batch: {}
exporters:
  otlp:
    endpoint: http://127.0.0.1:${sinkPort}
    protocol: http/protobuf
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
  csv:
    path: ${csvPath}
    flush_interval: 0s
  prometheus:
    endpoint: 127.0.0.1:${promPort}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp, csv, prometheus]
`,
      );
      const gateway = await collectors.start(gatewayConfig);
      const agent = await collectors.start(agentConfig);

      // protobuf, written by protobufjs from decimal strings; and OTLP/JSON text.
      const type = otlpTypes.ExportMetricsServiceRequest;
      const protobuf = type.encode(type.fromObject(request('int64.protobuf', 'sum'))).finish();
      const posts: [string, string | Uint8Array][] = [
        ['application/x-protobuf', protobuf],
        ['application/json', JSON.stringify(request('int64.json', 'gauge'))],
      ];
      for (const [contentType, body] of posts) {
        const response = await fetch(`http://127.0.0.1:${agentHttp}/v1/metrics`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        });
        expect(response.status, await response.text()).toBe(200);
      }

      const expected = VALUES.length * 2;
      await waitFor(
        () =>
          received(sink.requests, 'int64.protobuf').length + received(sink.requests, 'int64.json').length >=
          expected,
        60_000,
        'the points at the OTLP sink',
        () => `\nagent:\n${agent.output().slice(-3000)}\ngateway:\n${gateway.output().slice(-3000)}`,
      );
      await waitFor(() => csvRecords(csvPath).length >= expected, 60_000, 'the points in the CSV file');

      for (const name of ['int64.protobuf', 'int64.json']) {
        const points = received(sink.requests, name);
        expect(points).toHaveLength(VALUES.length);
        const byIndex = new Map(
          points.map((p) => [Number((p.point.attributes[0]?.value as { intValue: string }).intValue), p]),
        );
        VALUES.forEach((v, i) => {
          const got = byIndex.get(i);
          expect(got, `${name} point ${i}`).toBeDefined();
          // The agent's resource processor may add detected attributes; the sender's stay.
          expect(got!.resource).toEqual(expect.arrayContaining(RESOURCE));
          expect(got!.scope).toEqual(SCOPE);
          expect(got!.point.attributes).toEqual([{ key: 'i', value: { intValue: String(i) } }]);
          expect(got!.point.startTimeUnixNano).toBe(START);
          expect(got!.point.timeUnixNano).toBe(TIME);
          expect(got!.point.asDouble).toBeUndefined();
          expect(got!.point.asInt, `${name} point ${i}`).toBe(v.toString());
        });
        const exemplars = byIndex.get(VALUES.length - 1)!.point.exemplars ?? [];
        expect(exemplars.map((e) => e.asInt)).toEqual(VALUES.map(String));
        expect(exemplars.every((e) => e.timeUnixNano === TIME)).toBe(true);
      }

      // CSV: the value column (6th) in full digits.
      const csv = csvRecords(csvPath);
      for (const name of ['int64.protobuf', 'int64.json']) {
        const values = new Map(csv.filter((r) => r[2] === name).map((r) => [r[6], r[5]]));
        expect(values).toEqual(new Map(VALUES.map((v, i) => [`{"i":${i}}`, v.toString()])));
      }

      // Prometheus: each sample in full digits.
      const text = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
      for (const [sample, name] of [
        ['int64_protobuf_total', 'int64.protobuf'],
        ['int64_json', 'int64.json'],
      ] as const) {
        const samples = new Map<string, string>();
        for (const line of text.split('\n')) {
          const match = new RegExp(`^${sample}\\{(.*)\\} (\\S+)$`).exec(line);
          const i = match === null ? undefined : /(?:^|,)i="(\d+)"/.exec(match[1]!)?.[1];
          if (match !== null && i !== undefined) samples.set(i, match[2]!);
        }
        expect(samples, `${name} in\n${text}`).toEqual(
          new Map(VALUES.map((v, i) => [String(i), v.toString()])),
        );
      }

      await collectors.stop(agent);
      await collectors.stop(gateway);
    },
  );
});
