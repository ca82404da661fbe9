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
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricSink } from '../../kit/component.ts';
import { parseDuration } from '../../kit/config-types.ts';
import { toError } from '../../kit/errors.ts';
import type { Logger } from '../../kit/logger.ts';
import type { StartRequest } from './config.ts';
import { isValidName } from './config.ts';
import { loadCollectorId } from './collector-id.ts';
import { ExperimentRecorder } from './recorder.ts';

/** An experiment as the API lists it. */
export interface ExperimentRecord {
  name: string;
  state: 'running' | 'stopped' | 'interrupted';
  labels: Record<string, string>;
  /** Receiver ids whose data it records; all when absent. */
  receivers?: string[];
  /** Collection interval override while it ran, in ms. */
  interval_ms?: number;
  /** The id of the collector that recorded it (the `collector` column of its rows). */
  collector?: string;
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

/** A metrics pipeline as the manager sees it: its id and its receivers, in config order. */
export interface PipelineInfo {
  id: string;
  receivers: readonly string[];
}

/**
 * Which pipelines an experiment records: by pipeline id, the instrumentation scopes to leave
 * out (those of receivers it did not select, or already recorded from an earlier pipeline);
 * none when the set is empty.
 */
type Coverage = ReadonlyMap<string, ReadonlySet<string>>;

interface Running {
  record: ExperimentRecord;
  recorder: ExperimentRecorder;
  coverage: Coverage;
}

/** The instrumentation scope inframeter's receivers of a type publish under. */
const scopeOf = (receiverId: string): string =>
  `inframeter/receiver/${receiverId.split('/')[0] ?? receiverId}`;

/**
 * Picks the pipelines that record an experiment's receivers, each receiver's data once: a
 * pipeline is recorded when it holds a selected receiver no earlier pipeline held, and from it
 * the scopes of its other receivers are left out (unless a wanted receiver shares their type).
 */
export function coverageOf(pipelines: readonly PipelineInfo[], selected: ReadonlySet<string>): Coverage {
  const covered = new Set<string>();
  const coverage = new Map<string, ReadonlySet<string>>();
  for (const p of pipelines) {
    const wanted = p.receivers.filter((r) => selected.has(r) && !covered.has(r));
    if (wanted.length === 0) continue;
    for (const r of wanted) covered.add(r);
    const keep = new Set(wanted.map(scopeOf));
    coverage.set(
      p.id,
      new Set(
        p.receivers
          .filter((r) => !wanted.includes(r))
          .map(scopeOf)
          .filter((s) => !keep.has(s)),
      ),
    );
  }
  return coverage;
}

/**
 * Runs experiments on one collector: while one runs, what the pipelines holding its receivers
 * export (after their processors) is also written to its own CSV file, every row naming the
 * collector and carrying `experiment.name` and the labels. The pipelines' own exporters get
 * the batches unchanged, so an experiment never adds or ends a series in Prometheus or any
 * other backend. Descriptions are kept as JSON next to the CSV, so a restarted collector
 * still lists (and serves) what it recorded; an experiment that was running when the
 * collector stopped is `interrupted`.
 */
export class ExperimentManager {
  readonly #directory: string;
  readonly #logger: Logger;
  readonly #receivers: ReadonlyMap<string, ReceiverControl>;
  readonly #pipelines: readonly PipelineInfo[];
  readonly #running = new Map<string, Running>();
  /** The collector's id (see collector-id.ts). */
  readonly collectorId: string;

  constructor(
    directory: string,
    logger: Logger,
    receivers: ReadonlyMap<string, ReceiverControl>,
    pipelines: readonly PipelineInfo[],
  ) {
    this.#directory = directory;
    this.#logger = logger;
    this.#receivers = receivers;
    this.#pipelines = pipelines;
    mkdirSync(directory, { recursive: true });
    this.collectorId = loadCollectorId(directory);
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
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
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
      collector: this.collectorId,
      started_at: new Date().toISOString(),
      size: 0,
    };
    const recorder = new ExperimentRecorder(this.#csvPath(name), this.collectorId, {
      'experiment.name': name,
      ...request.labels,
    });
    await recorder.open();
    const selected = new Set(request.receivers ?? [...this.#receivers.keys()]);
    this.#running.set(name, { record, recorder, coverage: coverageOf(this.#pipelines, selected) });
    this.#save(record);
    this.#applyIntervals();
    this.#logger.info({ experiment: name, labels: request.labels }, 'experiment started');
    return record;
  }

  /**
   * Stops a running experiment and finishes its file. Idempotent: stopping one that is
   * already stopped, or `interrupted` by a restart of the collector, answers its record as it
   * is (its results can be fetched); only an unknown name is an error.
   */
  async stop(name: string): Promise<ExperimentRecord> {
    this.#check(name);
    const running = this.#running.get(name);
    if (running === undefined) return this.get(name);
    this.#running.delete(name);
    this.#applyIntervals();
    await running.recorder.close();
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

  /**
   * Wraps the exporters of a metrics pipeline (after its processors): every batch goes on to
   * `next` unchanged, and to each running experiment that records this pipeline.
   */
  tap(pipelineId: string, next: MetricSink): MetricSink {
    return {
      export: (batch: ResourceMetrics, done) => {
        for (const running of this.#running.values()) {
          const dropped = running.coverage.get(pipelineId);
          if (dropped === undefined) continue;
          const kept =
            dropped.size === 0
              ? batch
              : { ...batch, scopeMetrics: batch.scopeMetrics.filter((s) => !dropped.has(s.scope.name)) };
          if (kept.scopeMetrics.length === 0) continue;
          running.recorder.export(kept, (result) => {
            if (result.code !== ExportResultCode.SUCCESS) {
              this.#logger.warn(
                { err: result.error, experiment: running.record.name },
                'experiment CSV write failed',
              );
            }
          });
        }
        next.export(batch, done);
      },
      forceFlush: () => next.forceFlush(),
      shutdown: () => next.shutdown(),
    };
  }

  /** Finishes the files of running experiments; they stay `interrupted` until deleted. */
  async shutdown(): Promise<void> {
    for (const [name, running] of this.#running) {
      this.#running.delete(name);
      await running.recorder.close();
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
