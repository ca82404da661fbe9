import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { configSchema as csvConfigSchema } from '../exporters/csv/config.ts';
import { CsvExporter } from '../exporters/csv/csv.ts';
import type { ComponentSettings, MetricSink } from '../service/component.ts';
import { parseDuration } from '../service/config-types.ts';
import { toError } from '../service/errors.ts';
import type { Logger } from '../service/logger.ts';
import type { StartRequest } from './config.ts';
import { isValidName } from './config.ts';
import { withPointAttributes } from './labels.ts';

/** An experiment as the API lists it. */
export interface ExperimentRecord {
  name: string;
  state: 'running' | 'stopped' | 'interrupted';
  labels: Record<string, string>;
  /** Receiver ids whose data it records; all when absent. */
  receivers?: string[];
  /** Collection interval override while it ran, in ms. */
  interval_ms?: number;
  started_at: string;
  stopped_at?: string;
  /** Size of its CSV in bytes. */
  size: number;
}

/** An error the API answers with its HTTP status. */
export class ExperimentError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ExperimentError';
    this.status = status;
  }
}

/** A (device, metric regex) pair of on-demand metrics, as kwollect's `promoted_metrics` has them. */
export interface PromotedMetric {
  device_id: string;
  metric_id: string;
}

/**
 * What the manager may do to a receiver: change its collection interval, or restore it
 * (undefined); switch its on-demand metrics (the kwollect receiver's) on and off.
 */
export interface ReceiverControl {
  setCollectionInterval?(ms: number | undefined): void;
  listPromotedMetrics?(): { database: PromotedMetric[]; api: PromotedMetric[] };
  promoteMetrics?(promotion: PromotedMetric): void;
  demoteMetrics?(promotion: PromotedMetric): boolean;
}

interface Running {
  record: ExperimentRecord;
  exporter: CsvExporter;
  extra: Attributes;
}

/**
 * Runs experiments on one collector: while one runs, every batch from the receivers it
 * selected is labelled with `experiment.name` and its labels, and written to its own CSV
 * file beside the pipelines' exporters. Descriptions are kept as JSON next to the CSV, so a
 * restarted collector still lists (and serves) what it recorded; an experiment that was
 * running when the collector stopped is `interrupted`.
 */
export class ExperimentManager {
  readonly #directory: string;
  readonly #logger: Logger;
  readonly #settingsFor: (id: string) => ComponentSettings;
  readonly #receivers: ReadonlyMap<string, ReceiverControl>;
  readonly #running = new Map<string, Running>();

  constructor(
    directory: string,
    logger: Logger,
    settingsFor: (id: string) => ComponentSettings,
    receivers: ReadonlyMap<string, ReceiverControl>,
  ) {
    this.#directory = directory;
    this.#logger = logger;
    this.#settingsFor = settingsFor;
    this.#receivers = receivers;
    mkdirSync(directory, { recursive: true });
    for (const record of this.#stored()) {
      if (record.state === 'running') this.#save({ ...record, state: 'interrupted' });
    }
  }

  #csvPath(name: string): string {
    return join(this.#directory, `${name}.csv`);
  }

  #jsonPath(name: string): string {
    return join(this.#directory, `${name}.json`);
  }

  #save(record: ExperimentRecord): void {
    const path = this.#jsonPath(record.name);
    // The size is the CSV's, read when listed; it is not stored.
    const text = JSON.stringify(record, (key, value: unknown) => (key === 'size' ? undefined : value), 2);
    writeFileSync(`${path}.tmp`, `${text}\n`);
    renameSync(`${path}.tmp`, path);
  }

  #stored(): ExperimentRecord[] {
    return readdirSync(this.#directory)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          const record = JSON.parse(readFileSync(join(this.#directory, f), 'utf8')) as ExperimentRecord;
          return isValidName(record.name) ? [{ ...record, size: this.#sizeOf(record.name) }] : [];
        } catch (error) {
          this.#logger.warn({ err: toError(error), file: f }, 'unreadable experiment description: skipped');
          return [];
        }
      });
  }

  #sizeOf(name: string): number {
    const path = this.#csvPath(name);
    return existsSync(path) ? statSync(path).size : 0;
  }

  #check(name: string): void {
    if (!isValidName(name)) {
      throw new ExperimentError(
        400,
        `invalid experiment name ${JSON.stringify(name)}: letters, digits, ., _ and - only`,
      );
    }
  }

  /** Every experiment, running and finished, sorted by name. */
  /** A receiver by id, for the control API's per-receiver routes. */
  receiver(id: string): ReceiverControl | undefined {
    return this.#receivers.get(id);
  }

  list(): ExperimentRecord[] {
    const byName = new Map(this.#stored().map((r) => [r.name, r]));
    for (const { record } of this.#running.values())
      byName.set(record.name, { ...record, size: this.#sizeOf(record.name) });
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ExperimentRecord {
    this.#check(name);
    const record = this.list().find((r) => r.name === name);
    if (record === undefined) throw new ExperimentError(404, `no experiment ${name}`);
    return record;
  }

  async start(name: string, request: StartRequest): Promise<ExperimentRecord> {
    this.#check(name);
    if (this.#running.has(name)) throw new ExperimentError(409, `experiment ${name} is already running`);
    if (existsSync(this.#jsonPath(name))) {
      throw new ExperimentError(
        409,
        `experiment ${name} exists: delete it first (DELETE /experiments/${name})`,
      );
    }
    const unknown = (request.receivers ?? []).filter((id) => !this.#receivers.has(id));
    if (unknown.length > 0) {
      throw new ExperimentError(
        400,
        `unknown receivers: ${unknown.join(', ')}; known: ${[...this.#receivers.keys()].join(', ')}`,
      );
    }
    let intervalMs: number | undefined;
    if (request.interval !== undefined) {
      const parsed = parseIntervalOrThrow(request.interval);
      if (parsed < 10) throw new ExperimentError(400, 'interval: at least 10ms');
      intervalMs = parsed;
    }
    const record: ExperimentRecord = {
      name,
      state: 'running',
      labels: request.labels,
      ...(request.receivers === undefined ? {} : { receivers: request.receivers }),
      ...(intervalMs === undefined ? {} : { interval_ms: intervalMs }),
      started_at: new Date().toISOString(),
      size: 0,
    };
    const exporter = new CsvExporter(
      this.#settingsFor(`experiments/${name}`),
      csvConfigSchema.parse({ path: this.#csvPath(name), flush_interval: '0ms' }),
    );
    await exporter.start();
    this.#running.set(name, { record, exporter, extra: { 'experiment.name': name, ...request.labels } });
    this.#save(record);
    this.#applyIntervals();
    this.#logger.info({ experiment: name, labels: request.labels }, 'experiment started');
    return record;
  }

  async stop(name: string): Promise<ExperimentRecord> {
    this.#check(name);
    const running = this.#running.get(name);
    if (running === undefined) {
      const record = this.get(name);
      throw new ExperimentError(409, `experiment ${name} is not running (${record.state})`);
    }
    this.#running.delete(name);
    this.#applyIntervals();
    await running.exporter.shutdown();
    const record: ExperimentRecord = {
      ...running.record,
      state: 'stopped',
      stopped_at: new Date().toISOString(),
      size: this.#sizeOf(name),
    };
    this.#save(record);
    this.#logger.info({ experiment: name, bytes: record.size }, 'experiment stopped');
    return record;
  }

  /** The CSV of a stopped experiment (a running one is still being written). */
  resultsPath(name: string): string {
    const record = this.get(name);
    if (record.state === 'running')
      throw new ExperimentError(409, `experiment ${name} is still running: stop it first`);
    return this.#csvPath(name);
  }

  delete(name: string): void {
    const record = this.get(name);
    if (record.state === 'running')
      throw new ExperimentError(409, `experiment ${name} is running: stop it first`);
    rmSync(this.#csvPath(name), { force: true });
    rmSync(this.#jsonPath(name), { force: true });
  }

  /** The shortest interval any running experiment asks of each receiver; the configured one otherwise. */
  #applyIntervals(): void {
    for (const [id, control] of this.#receivers) {
      let shortest: number | undefined;
      for (const { record } of this.#running.values()) {
        if (record.interval_ms === undefined) continue;
        if (record.receivers !== undefined && !record.receivers.includes(id)) continue;
        shortest = Math.min(shortest ?? Infinity, record.interval_ms);
      }
      control.setCollectionInterval?.(shortest);
    }
  }

  /** Wraps a receiver's output: labels batches and copies them to the experiments that want them. */
  tap(receiverId: string, next: MetricSink): MetricSink {
    return {
      export: (batch: ResourceMetrics, done) => {
        if (this.#running.size === 0) {
          next.export(batch, done);
          return;
        }
        const names: string[] = [];
        const labels: Attributes = {};
        for (const running of this.#running.values()) {
          const wanted = running.record.receivers;
          if (wanted !== undefined && !wanted.includes(receiverId)) continue;
          names.push(running.record.name);
          Object.assign(labels, running.record.labels);
          running.exporter.export(withPointAttributes(batch, running.extra), (result) => {
            if (result.code !== ExportResultCode.SUCCESS) {
              this.#logger.warn(
                { err: result.error, experiment: running.record.name },
                'experiment CSV write failed',
              );
            }
          });
        }
        if (names.length === 0) {
          next.export(batch, done);
          return;
        }
        names.sort();
        next.export(withPointAttributes(batch, { ...labels, 'experiment.name': names.join(',') }), done);
      },
      forceFlush: () => next.forceFlush(),
      shutdown: () => next.shutdown(),
    };
  }

  /** Finishes the files of running experiments; they stay `interrupted` until deleted. */
  async shutdown(): Promise<void> {
    for (const [name, running] of this.#running) {
      this.#running.delete(name);
      await running.exporter.shutdown();
      this.#save({ ...running.record, state: 'interrupted', stopped_at: new Date().toISOString() });
    }
    this.#applyIntervals();
  }
}

function parseIntervalOrThrow(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new ExperimentError(
      400,
      `interval: ${JSON.stringify(text)} is not a duration such as 500ms, 1s, 1m`,
    );
  return ms;
}
