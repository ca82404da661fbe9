import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { otlpExporterFactory } from '../exporters/otlp/factory.ts';
import { OtlpExporter } from '../exporters/otlp/otlp.ts';
import { createProcfsClient } from '../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../receivers/procfs/config.ts';
import { ProcfsScraper } from '../receivers/procfs/scraper.ts';
import { otlpReceiverFactory } from '../receivers/otlp/factory.ts';
import { OtlpReceiver } from '../receivers/otlp/receiver.ts';
import type { MetricSink } from '../kit/component.ts';
import { formatHostPort } from '../kit/config-types.ts';
import { createTestSettings, scrapeOnce } from './support/settings.ts';

/**
 * agent (procfs on this machine's /proc) → OTLP/gRPC → gateway (otlp receiver → otlp
 * exporter) → OTLP/HTTP → a last otlp receiver: what arrives is what the agent produced,
 * bit for bit — types, value types (integers travel as OTLP as_int), start times (the boot
 * time), end times, attributes, values, resource and scope.
 */

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function send(sink: MetricSink, batch: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => {
    sink.export(batch, resolve);
  });
}

/** A comparable view of a batch: every field that must survive, values compared exactly. */
function view(batch: ResourceMetrics): unknown {
  return {
    resource: batch.resource.attributes,
    scopes: batch.scopeMetrics.map((s) => ({
      scope: { name: s.scope.name, version: s.scope.version },
      metrics: s.metrics.map((m: MetricData) => ({
        descriptor: m.descriptor,
        type: m.dataPointType,
        temporality: m.aggregationTemporality,
        monotonic: 'isMonotonic' in m ? m.isMonotonic : undefined,
        points: (m.dataPoints as DataPoint<unknown>[]).map((p) => ({
          startTime: p.startTime,
          endTime: p.endTime,
          attributes: p.attributes,
          value: p.value,
        })),
      })),
    })),
  };
}

describe('OTLP round trip agent → gateway → OTLP', () => {
  it('keeps types, value types, start times and values bit for bit', async () => {
    const received: ResourceMetrics[] = [];
    const last = new OtlpReceiver(
      createTestSettings('otlp/last', 'receiver'),
      otlpReceiverFactory.configSchema.parse({ protocols: { http: { endpoint: '127.0.0.1:0' } } }),
    );
    await last.start({
      export(b, cb) {
        received.push(b);
        cb({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    cleanups.push(() => last.shutdown());
    const lastAddress = last.addresses().http;
    if (lastAddress === undefined) throw new Error('the last receiver has no HTTP address');

    const gatewayOut = new OtlpExporter(
      createTestSettings('otlp/gateway', 'exporter'),
      otlpExporterFactory.configSchema.parse({
        endpoint: `http://${formatHostPort(lastAddress)}`,
        protocol: 'http/protobuf',
        tls: { insecure: true },
        sending_queue: { enabled: false },
      }),
    );
    await gatewayOut.start();
    cleanups.push(() => gatewayOut.shutdown());
    const gateway = new OtlpReceiver(
      createTestSettings('otlp/gateway', 'receiver'),
      otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } }),
    );
    await gateway.start(gatewayOut);
    cleanups.push(() => gateway.shutdown());
    const gatewayAddress = gateway.addresses().grpc;
    if (gatewayAddress === undefined) throw new Error('the gateway has no gRPC address');

    const agentOut = new OtlpExporter(
      createTestSettings('otlp/agent', 'exporter'),
      otlpExporterFactory.configSchema.parse({
        endpoint: formatHostPort(gatewayAddress),
        tls: { insecure: true },
        sending_queue: { enabled: false },
      }),
    );
    await agentOut.start();
    cleanups.push(() => agentOut.shutdown());

    const { batch } = await scrapeOnce(
      new ProcfsScraper(createProcfsClient('/'), procfsConfigSchema.parse({})),
    );
    expect((await send(agentOut, batch)).code).toBe(ExportResultCode.SUCCESS);
    const deadline = Date.now() + 30_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(1);
    const [arrived] = received;
    if (arrived === undefined) return;
    expect(view(arrived)).toEqual(view(batch));
    // Integers travelled as integers, and since-boot sums start before the scrape.
    const metrics = arrived.scopeMetrics.flatMap((s) => s.metrics);
    expect(metrics.find((m) => m.descriptor.name === 'system.disk.io')?.descriptor.valueType).toBe(
      ValueType.INT,
    );
    const cpu = metrics.find((m) => m.descriptor.name === 'system.cpu.time')?.dataPoints[0];
    expect(cpu?.startTime[0]).toBeLessThan(cpu?.endTime[0] ?? 0);
  }, 60_000);
});
