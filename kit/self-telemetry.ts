import { getHeapCodeStatistics } from 'node:v8';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ComponentKind, ComponentTelemetry, LogTelemetry } from './component.ts';
import { readPackageVersion } from './version.ts';

/** A reader that collects only when asked, for the internal endpoint. */
class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The collector's own metrics (`inframeter.*`): points received, exported, failed and dropped
 * per component, scrape durations and errors, and the process's CPU and memory.
 */
export class SelfTelemetry {
  readonly meter: Meter;
  readonly reader: MetricReader;
  readonly #provider: MeterProvider;
  readonly #received: Counter;
  readonly #exported: Counter;
  readonly #failed: Counter;
  readonly #dropped: Counter;
  readonly #logRecords: { received: Counter; exported: Counter; failed: Counter };
  readonly #scrapeDuration: Histogram;
  readonly #scrapeErrors: Counter;
  readonly #lastScrapeFailed = new Map<string, number>();

  constructor(resource: Resource) {
    this.reader = new PullReader();
    this.#provider = new MeterProvider({ resource, readers: [this.reader] });
    this.meter = this.#provider.getMeter('inframeter/service', readPackageVersion());
    const points = (name: string, description: string): Counter =>
      this.meter.createCounter(`inframeter.component.points.${name}`, {
        unit: '{point}',
        description,
        valueType: ValueType.INT,
      });
    this.#received = points('received', 'Data points handed to the component.');
    this.#exported = points('exported', 'Data points the component passed on or delivered.');
    this.#failed = points('failed', 'Data points whose export failed.');
    this.#dropped = points('dropped', 'Data points dropped on purpose (a queue bound, a filter), by reason.');
    const records = (name: string, description: string): Counter =>
      this.meter.createCounter(`inframeter.component.log_records.${name}`, {
        unit: '{log_record}',
        description,
        valueType: ValueType.INT,
      });
    this.#logRecords = {
      received: records('received', 'Log records handed to the component (a receiver: pushed by it).'),
      exported: records('exported', 'Log records the component passed on or delivered.'),
      failed: records('failed', 'Log records whose export failed.'),
    };
    this.#scrapeDuration = this.meter.createHistogram('inframeter.scrape.duration', {
      unit: 's',
      description: 'Wall time of one scrape of a receiver.',
      advice: {
        explicitBucketBoundaries: [
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
        ],
      },
    });
    this.#scrapeErrors = this.meter.createCounter('inframeter.scrape.errors', {
      unit: '{error}',
      description: 'Sources that failed during scrapes.',
      valueType: ValueType.INT,
    });
    const success = this.meter.createObservableGauge('inframeter.scrape.success', {
      description: '1 when the last scrape of the receiver read every source, 0 otherwise.',
      valueType: ValueType.INT,
    });
    success.addCallback((result) => {
      for (const [id, failed] of this.#lastScrapeFailed)
        result.observe(failed === 0 ? 1 : 0, { 'component.id': id });
    });
    const rss = this.meter.createObservableGauge('inframeter.process.memory.rss', {
      unit: 'By',
      description: 'Resident set size of the collector process.',
      valueType: ValueType.INT,
    });
    rss.addCallback((result) => {
      result.observe(process.memoryUsage.rss());
    });
    const usage = this.meter.createObservableGauge('inframeter.process.memory.usage', {
      unit: 'By',
      description:
        "Where the collector's memory goes, by memory.type: V8's heap (heap_used of heap_total " +
        'committed), compiled code and bytecode within it (code), memory of JavaScript objects held ' +
        'outside the heap (external) and of Buffers and ArrayBuffers among it (array_buffers).',
      valueType: ValueType.INT,
    });
    usage.addCallback((result) => {
      const memory = process.memoryUsage();
      const code = getHeapCodeStatistics();
      result.observe(memory.heapUsed, { 'memory.type': 'heap_used' });
      result.observe(memory.heapTotal, { 'memory.type': 'heap_total' });
      result.observe(code.code_and_metadata_size + code.bytecode_and_metadata_size, {
        'memory.type': 'code',
      });
      result.observe(memory.external, { 'memory.type': 'external' });
      result.observe(memory.arrayBuffers, { 'memory.type': 'array_buffers' });
    });
    const cpu = this.meter.createObservableCounter('inframeter.process.cpu.time', {
      unit: 's',
      description: 'CPU time of the collector process, by mode.',
    });
    cpu.addCallback((result) => {
      const usage = process.cpuUsage();
      result.observe(usage.user / 1e6, { 'cpu.mode': 'user' });
      result.observe(usage.system / 1e6, { 'cpu.mode': 'system' });
    });
  }

  /** The counters bound to one component. */
  forComponent(id: string, kind: ComponentKind): ComponentTelemetry {
    const attrs: Attributes = { 'component.id': id, 'component.kind': kind };
    return {
      received: (n) => {
        if (n > 0) this.#received.add(n, attrs);
      },
      exported: (n) => {
        if (n > 0) this.#exported.add(n, attrs);
      },
      failed: (n) => {
        if (n > 0) this.#failed.add(n, attrs);
      },
      dropped: (n, reason) => {
        if (n > 0) this.#dropped.add(n, { ...attrs, reason });
      },
      scraped: (durationMs, failedSources) => {
        this.#scrapeDuration.record(durationMs / 1000, { 'component.id': id });
        if (failedSources > 0) this.#scrapeErrors.add(failedSources, { 'component.id': id });
        this.#lastScrapeFailed.set(id, failedSources);
      },
    };
  }

  /** The log record counters bound to one component. */
  logsForComponent(id: string, kind: ComponentKind): LogTelemetry {
    const attrs: Attributes = { 'component.id': id, 'component.kind': kind };
    const { received, exported, failed } = this.#logRecords;
    return {
      received: (n) => {
        if (n > 0) received.add(n, attrs);
      },
      exported: (n) => {
        if (n > 0) exported.add(n, attrs);
      },
      failed: (n) => {
        if (n > 0) failed.add(n, attrs);
      },
    };
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
