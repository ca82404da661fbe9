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

/** How long {@link CodeSize} keeps the code size before asking V8 again, in ms. */
export const CODE_SIZE_REFRESH_MS = 60_000;

/**
 * Compiled code and bytecode in V8's heap, with their metadata, in bytes
 * (`v8.getHeapCodeStatistics()`), asked of V8 at most once per `refreshMs`: V8 counts them by
 * walking the whole heap, 3.5 ms of CPU for a 24 MB heap on a 2-core machine, which every read
 * of the telemetry endpoint paid (a reader polling it every 250 ms cost the collector 2.5 % of
 * a core). Code grows while the collector warms up and then stays; a minute behind is enough.
 */
export class CodeSize {
  readonly #now: () => number;
  readonly #read: () => number;
  readonly #refreshMs: number;
  #bytes = 0;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(
    now: () => number = () => performance.now(),
    read: () => number = readCodeBytes,
    refreshMs = CODE_SIZE_REFRESH_MS,
  ) {
    this.#now = now;
    this.#read = read;
    this.#refreshMs = refreshMs;
  }

  /** The size last read, read again when older than the refresh period. */
  bytes(): number {
    const now = this.#now();
    if (now - this.#readAt >= this.#refreshMs) {
      this.#bytes = this.#read();
      this.#readAt = now;
    }
    return this.#bytes;
  }
}

function readCodeBytes(): number {
  const code = getHeapCodeStatistics();
  return code.code_and_metadata_size + code.bytecode_and_metadata_size;
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
  readonly #codeSize: CodeSize;

  /** `codeSize`: where the `code` memory type comes from (tests inject one). */
  constructor(resource: Resource, codeSize: CodeSize = new CodeSize()) {
    this.#codeSize = codeSize;
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
        'outside the heap (external) and of Buffers and ArrayBuffers among it (array_buffers). ' +
        'The code size is read at most once a minute (V8 walks the heap to count it).',
      valueType: ValueType.INT,
    });
    usage.addCallback((result) => {
      const memory = process.memoryUsage();
      result.observe(memory.heapUsed, { 'memory.type': 'heap_used' });
      result.observe(memory.heapTotal, { 'memory.type': 'heap_total' });
      result.observe(this.#codeSize.bytes(), { 'memory.type': 'code' });
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
