import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, MetricSink, Receiver, ReceiverFactory } from '../../service/component.ts';
import { ConfigError, toError } from '../../service/errors.ts';
import { ipmiFactory } from '../ipmi/factory.ts';
import { prometheusReceiverFactory } from '../prometheus/factory.ts';
import { snmpFactory } from '../snmp/factory.ts';
import type { KwollectConfig } from './config.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { parseMetricsFile } from './parse/metrics-file.ts';
import type { Translated } from './translate.ts';
import { translate } from './translate.ts';

const FACTORIES: Record<Translated['type'], ReceiverFactory> = {
  snmp: snmpFactory,
  ipmi: ipmiFactory,
  prometheus: prometheusReceiverFactory,
};

/** Reads every `*.yaml` of a kwollect `metrics.d` directory. */
export function readMetricsDir(dir: string): KwollectMetric[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .flatMap((f) => parseMetricsFile(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}

/** Replaces a batch's metrics, dropping scopes left empty. */
function withMetrics(
  batch: ResourceMetrics,
  map: (metric: MetricData) => MetricData[],
): ResourceMetrics | undefined {
  const scopeMetrics = batch.scopeMetrics
    .map((s) => ({ scope: s.scope, metrics: s.metrics.flatMap(map) }))
    .filter((s) => s.metrics.length > 0);
  return scopeMetrics.length === 0 ? undefined : { resource: batch.resource, scopeMetrics };
}

/** A metric renamed, its points filtered and reshaped. */
function reshape(metric: MetricData, name: string, points: DataPoint<number>[]): MetricData {
  return { ...metric, descriptor: { ...metric.descriptor, name }, dataPoints: points } as MetricData;
}

/**
 * kwollect compatibility: reads a site's `metrics.d` files as they are and runs them on
 * inframeter's snmp, ipmi and prometheus receivers; every point is the kwollect metric
 * (`name`) of its device (`device.id`) with the file's labels and scale factor. Metrics
 * marked `optional` are polled but dropped until switched on for their device.
 */
export class KwollectReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: KwollectConfig;
  readonly #optionalOn: Set<string>;
  readonly #inner: Receiver[] = [];
  #server: Server | undefined;

  constructor(settings: ComponentSettings, config: KwollectConfig) {
    this.#settings = settings;
    this.#config = config;
    this.#optionalOn = new Set(config.optional_on);
  }

  /** Switches a device's optional metrics on or off. */
  setOptional(device: string, on: boolean): void {
    if (on) this.#optionalOn.add(device);
    else this.#optionalOn.delete(device);
    this.#settings.logger.info({ device, optional: on }, 'kwollect optional metrics switched');
  }

  #wanted(metric: KwollectMetric): boolean {
    return !metric.optional || this.#optionalOn.has(metric.deviceId);
  }

  /** The transform of one inner receiver's batches into kwollect metrics. */
  #transform(t: Translated): (batch: ResourceMetrics) => ResourceMetrics | undefined {
    if (t.type === 'snmp') {
      const byKey = new Map(t.metrics.map((m) => [`${m.name}\u0000${m.deviceId}`, m]));
      const names = new Set(t.metrics.map((m) => m.name));
      return (batch) =>
        withMetrics(batch, (metric) => {
          if (!names.has(metric.descriptor.name)) return [metric];
          const points: DataPoint<number>[] = [];
          for (const p of metric.dataPoints as DataPoint<number>[]) {
            const m = byKey.get(`${metric.descriptor.name}\u0000${String(p.attributes['device.id'])}`);
            if (m === undefined) points.push(p);
            else if (this.#wanted(m)) points.push({ ...p, attributes: { ...p.attributes, ...m.labels } });
          }
          return points.length === 0 ? [] : [reshape(metric, metric.descriptor.name, points)];
        });
    }
    const entries = t.metrics;
    return (batch) =>
      withMetrics(batch, (metric) => {
        const out = new Map<string, DataPoint<number>[]>();
        for (const p of metric.dataPoints as DataPoint<number>[]) {
          for (const m of entries) {
            if (!this.#wanted(m) || !matches(m, metric.descriptor.name, p.attributes)) continue;
            const name = m.url.scheme === 'ipmisensor' ? m.name : metric.descriptor.name;
            const attributes: Attributes = m.url.scheme === 'ipmisensor' ? {} : withoutDevice(p.attributes);
            Object.assign(attributes, m.labels, { 'device.id': m.deviceId });
            const list = out.get(name) ?? [];
            list.push({ ...p, attributes, value: p.value * m.scaleFactor });
            out.set(name, list);
          }
        }
        return [...out].map(([name, points]) => reshape(metric, name, points));
      });
  }

  async start(next: MetricSink): Promise<void> {
    let metrics: KwollectMetric[];
    try {
      metrics = readMetricsDir(this.#config.metrics_dir);
    } catch (error) {
      throw new ConfigError([`metrics_dir: ${toError(error).message}`]);
    }
    for (const t of translate(metrics, this.#config.ipmi_workarounds)) {
      const factory = FACTORIES[t.type];
      const parsed = factory.configSchema.safeParse(t.config);
      if (!parsed.success) {
        throw new ConfigError(
          parsed.error.issues.map((i) => `metrics_dir: ${t.type} metrics: ${i.path.join('.')}: ${i.message}`),
        );
      }
      const receiver = factory.create(
        { ...this.#settings, id: `${this.#settings.id}/${t.type}` },
        parsed.data,
      );
      const transform = this.#transform(t);
      await receiver.start({
        export: (batch, done) => {
          const out = transform(batch);
          if (out === undefined) done({ code: ExportResultCode.SUCCESS });
          else next.export(out, done);
        },
        forceFlush: () => next.forceFlush(),
        shutdown: () => Promise.resolve(),
      });
      this.#inner.push(receiver);
    }
    this.#settings.logger.info(
      { metrics: metrics.length, receivers: this.#inner.length },
      'kwollect metrics loaded',
    );
    const control = this.#config.control_endpoint;
    if (control !== undefined) await this.#listen(control.host, control.port);
  }

  get controlPort(): number | undefined {
    const a = this.#server?.address();
    return a === null || a === undefined || typeof a === 'string' ? undefined : a.port;
  }

  #listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(body)}\n`);
      };
      const url = new URL(req.url ?? '/', 'http://control');
      if (req.method === 'GET' && url.pathname === '/devices') {
        reply(200, { optional_on: [...this.#optionalOn].sort() });
        return;
      }
      const match = /^\/devices\/([^/]+)\/optional$/.exec(url.pathname);
      if (match === null || req.method !== 'PUT') {
        reply(404, { error: 'use GET /devices or PUT /devices/DEVICE/optional' });
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const value = body.trim();
        if (value !== 'on' && value !== 'off') {
          reply(400, { error: 'body must be on or off' });
          return;
        }
        const device = decodeURIComponent(match[1] ?? '');
        this.setOptional(device, value === 'on');
        reply(200, { device, optional: value });
      });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#inner.map((r) => r.shutdown()));
    this.#inner.length = 0;
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
  }
}

function withoutDevice(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (k !== 'device.id') out[k] = v;
  return out;
}

/** Whether a point of an inner receiver is the kwollect metric `m`. */
function matches(m: KwollectMetric, metricName: string, attributes: Attributes): boolean {
  if (m.url.scheme === 'ipmisensor') {
    if (attributes['device.id'] !== m.url.host) return false;
    const hwId = attributes['hw.id'];
    const id = (typeof hwId === 'string' ? hwId : '').split(':').pop();
    const isReading = metricName.startsWith('hw.')
      ? metricName !== 'hw.status'
      : metricName.startsWith('inframeter.ipmi.') && metricName !== 'inframeter.ipmi.up';
    return isReading && (id === m.url.sensor || attributes['hw.name'] === m.url.sensor);
  }
  if (m.url.scheme === 'prometheus') {
    if (m.url.names.length === 0)
      return !['up', 'scrape_duration_seconds', 'scrape_samples_scraped'].includes(metricName);
    // The prometheus receiver keeps a counter's name as the exporter wrote it (`x_total`).
    return m.url.names.some(
      (n) => n === metricName || metricName === `${n}_total` || n === `${metricName}_total`,
    );
  }
  return false;
}
