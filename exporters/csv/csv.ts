import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { keepWellFormedPoints } from '../../kit/malformed-points.ts';
import { toError } from '../../kit/errors.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import type { CsvExporterConfig } from './config.ts';
import {
  closeCsvFile,
  moveWithStamp,
  openCsvFile,
  pruneRotated,
  syncCsvFile,
  writeAllToFile,
} from './csv-file.ts';
import type { CsvFile } from './csv-file.ts';
import { CSV_HEADER, CsvFormatter } from './rows.ts';

/** Rows waiting beyond this many bytes are written at once rather than at the next flush tick. */
const WRITE_NOW_BYTES = 1 << 20;

/** Longest timer delay Node accepts (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const HEADER_BYTES = Buffer.byteLength(CSV_HEADER, 'utf8');

/** Share of `max_buffer_size` that written batches' buffers may keep for the next batches ({@link BatchBuffers}). */
const SPARE_SHARE = 0.25;
/** Granularity of a batch buffer's size, so that a batch a few rows longer than the last fits. */
const BATCH_BUFFER_STEP = 16 << 10;

/**
 * The buffers that batches wait in, reused: a batch is copied into the smallest spare buffer
 * that holds it, or into a new one sized up to the next {@link BATCH_BUFFER_STEP}; once
 * written, its buffer becomes a spare, the largest spares kept up to `maxSpareBytes` in all.
 * A collector's receivers send batches of about the same sizes at every scrape, so after
 * the first scrapes no batch allocates: without this, every batch left a buffer of its size
 * (hundreds of kilobytes per scrape in the default configuration) for the garbage collector,
 * and those accumulated in the RSS between full collections. The budget is in bytes rather
 * than buffers so that a burst of batches (many exported before a flush) reuses them too:
 * with four spares kept, a burst of 50 procfs batches allocated 46 new buffers, and the
 * exporter's CPU per row doubled (bench/agent.bench.ts, the csv row).
 */
export class BatchBuffers {
  readonly #spares: Buffer[] = [];
  #spareBytes = 0;
  readonly #maxSpareBytes: number;

  constructor(maxSpareBytes: number) {
    this.#maxSpareBytes = maxSpareBytes;
  }

  /** A buffer holding a copy of `records`, and the view of it that the records fill. */
  take(records: Uint8Array): { buffer: Buffer; data: Buffer } {
    let best = -1;
    for (let i = 0; i < this.#spares.length; i += 1) {
      const length = this.#spares[i]?.length ?? 0;
      if (length >= records.length && (best < 0 || length < (this.#spares[best]?.length ?? 0))) best = i;
    }
    let buffer: Buffer;
    if (best >= 0) {
      buffer = this.#spares.splice(best, 1)[0] as Buffer;
      this.#spareBytes -= buffer.length;
    } else {
      buffer = Buffer.allocUnsafeSlow(Math.ceil(records.length / BATCH_BUFFER_STEP) * BATCH_BUFFER_STEP);
    }
    buffer.set(records);
    return { buffer, data: buffer.subarray(0, records.length) };
  }

  /** Gives back the buffer of a written batch. */
  give(buffer: Buffer): void {
    this.#spares.push(buffer);
    this.#spareBytes += buffer.length;
    if (this.#spareBytes <= this.#maxSpareBytes) return;
    // Over the budget: the smallest are let go.
    this.#spares.sort((a, b) => b.length - a.length);
    while (this.#spareBytes > this.#maxSpareBytes) {
      this.#spareBytes -= this.#spares.pop()?.length ?? 0;
    }
  }
}

/** What the exporter needs from outside besides its config: the clock, injectable for tests. */
export interface CsvExporterOptions {
  /** Milliseconds since the epoch; rotation ages and file name stamps use it. Default: Date.now. */
  readonly now?: () => number;
}

interface Pending {
  /** The batch's records, encoded once, a view of `buffer`. */
  readonly data: Buffer;
  /** The buffer the records were copied into ({@link BatchBuffers}), given back once written. */
  readonly buffer: Buffer;
  /** Memory `data` keeps alive: the whole of `buffer`. */
  readonly bytes: number;
  readonly callback: (result: ExportResult) => void;
}

/**
 * Writes batches to a CSV file, one row per data point (see README.md). Rows wait in a
 * bounded in-memory buffer and are written every `flush_interval` (sooner when a megabyte is
 * waiting), one write at a time so that the file stream's backpressure holds. A batch's
 * callback fires once its rows are handed to the operating system. A batch that would take the
 * buffer past `max_buffer_size` fails at once and its points are counted dropped (logged once
 * per overflow). The bound counts the memory the queue keeps alive, not only the bytes of the
 * rows: each batch is copied out of the formatter's scratch into a buffer of its own, reused
 * for later batches once written ({@link BatchBuffers}).
 *
 * The file is opened by `start()`, or by the first write when used as a plain SDK exporter
 * without `start()`.
 */
export class CsvExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: CsvExporterConfig;
  readonly #now: () => number;
  readonly #errors: ErrorLog;
  readonly #formatter = new CsvFormatter();
  readonly #buffers: BatchBuffers;
  #queue: Pending[] = [];
  /** Bytes in #queue. */
  #queuedBytes = 0;
  /** Memory of the batches queued plus those being written: what the buffer bound applies to. */
  #bufferedBytes = 0;
  #file: CsvFile | undefined;
  /** Every file operation runs in this chain, one after another. It never rejects. */
  #chain: Promise<void> = Promise.resolve();
  #flushTimer: NodeJS.Timeout | undefined;
  #rotationTimer: NodeJS.Timeout | undefined;
  #shutdown: Promise<void> | undefined;
  /** Set by the first shutdown(): no export is accepted and no timer armed after it. */
  #closed = false;

  constructor(settings: ComponentSettings, config: CsvExporterConfig, options: CsvExporterOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#now = options.now ?? Date.now;
    this.#errors = new ErrorLog(settings.logger);
    this.#buffers = new BatchBuffers(config.max_buffer_size * SPARE_SHARE);
  }

  /** Opens the file (appending, repairing or moving an old one aside); rejects when it cannot. */
  async start(): Promise<void> {
    if (this.#closed) return;
    const opened = this.#chain.then(() => this.#ensureOpen());
    this.#chain = opened.then(
      () => undefined,
      () => undefined,
    );
    await opened;
  }

  /**
   * Bytes of memory the batches waiting to be written (queued or being written) keep alive:
   * never more than `max_buffer_size`, except for one batch larger than it on its own.
   */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  describe(): string {
    return this.#config.path;
  }

  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (this.#closed) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('the csv exporter is shut down') });
      return;
    }
    let records: Buffer;
    try {
      const wellFormed = keepWellFormedPoints(batch, {
        telemetry: this.#settings.telemetry,
        errors: this.#errors,
      });
      records = this.#formatter.encode(wellFormed, { includeResource: this.#config.include_resource });
      if (records.length === 0) {
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: toError(error) });
      return;
    }
    // The records are a view of the formatter's scratch: checked against the bound before they
    // are copied, so a batch refused allocates nothing.
    const bytes = records.length;
    // An empty buffer takes any batch, so that one batch larger than the bound still goes through.
    if (this.#bufferedBytes > 0 && this.#bufferedBytes + bytes > this.#config.max_buffer_size) {
      const points = countPoints(batch);
      this.#settings.telemetry.dropped(points, 'buffer_full');
      const error = new Error(
        `csv buffer full: ${this.#bufferedBytes} bytes wait to be written (max_buffer_size ${this.#config.max_buffer_size}); ${points} points dropped`,
      );
      this.#errors.report('buffer', error, 'buffer_full');
      resultCallback({ code: ExportResultCode.FAILED, error });
      return;
    }
    this.#errors.recovered('buffer');
    const { buffer, data } = this.#buffers.take(records);
    this.#queue.push({ data, buffer, bytes: buffer.length, callback: resultCallback });
    this.#queuedBytes += data.length;
    this.#bufferedBytes += buffer.length;
    if (this.#config.flush_interval === 0 || this.#queuedBytes >= WRITE_NOW_BYTES) {
      void this.#drain(); // The chain never rejects; export's callers hear through their callbacks.
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        void this.#drain(); // As above: failures go to the callbacks.
      }, this.#config.flush_interval);
      this.#flushTimer.unref();
    }
  }

  /** Writes every waiting row and syncs the file to disk. */
  async forceFlush(): Promise<void> {
    await this.#drain();
    await this.#run(async () => {
      if (this.#file !== undefined) await syncCsvFile(this.#file);
    });
  }

  /** Writes every waiting row, syncs and closes the file. Safe twice and before start. */
  shutdown(): Promise<void> {
    this.#closed = true;
    this.#shutdown ??= this.#close();
    return this.#shutdown;
  }

  async #close(): Promise<void> {
    this.#clearTimers();
    await this.#drain();
    await this.#run(async () => {
      this.#clearTimers();
      const file = this.#file;
      this.#file = undefined;
      if (file !== undefined) await closeCsvFile(file);
    });
  }

  #clearTimers(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    if (this.#rotationTimer !== undefined) clearTimeout(this.#rotationTimer);
    this.#flushTimer = undefined;
    this.#rotationTimer = undefined;
  }

  /** Runs a file operation after the ones before it; logs a failure instead of rejecting. */
  #run(operation: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(operation).catch((error: unknown) => {
      this.#errors.report('file', error);
    });
    return this.#chain;
  }

  /** Writes what is queued now (after anything already being written). */
  #drain(): Promise<void> {
    return this.#run(() => this.#writeQueued());
  }

  async #ensureOpen(): Promise<CsvFile> {
    if (this.#file !== undefined) return this.#file;
    const { path } = this.#config;
    const { file, report } = await openCsvFile(path, CSV_HEADER, this.#now());
    this.#file = file;
    if (report.movedAside !== undefined) {
      this.#settings.logger.warn(
        { path, moved_to: report.movedAside },
        'the existing file has another header: moved it aside and started a new file',
      );
    }
    if (report.truncatedBytes !== undefined) {
      this.#settings.logger.warn(
        { path, bytes: report.truncatedBytes },
        'the last record of the existing file was incomplete (an interrupted write): cut it off',
      );
    }
    this.#settings.logger.debug({ path, appended: report.appended }, 'csv file open');
    this.#armRotationTimer(file);
    return file;
  }

  /** Whether the current file must be rotated before `nextBytes` more are written to it. */
  #rotationDue(file: CsvFile, nextBytes: number): boolean {
    const { max_size, interval } = this.#config.rotation;
    const hasRows = file.size > HEADER_BYTES;
    if (interval !== undefined && this.#now() - file.createdAt >= interval) {
      // An empty file starts its interval again rather than being rotated empty.
      if (hasRows) return true;
      file.createdAt = this.#now();
    }
    return hasRows && max_size !== undefined && file.size + nextBytes > max_size;
  }

  async #rotate(file: CsvFile): Promise<CsvFile> {
    this.#file = undefined;
    await closeCsvFile(file);
    const rotated = await moveWithStamp(file.path, this.#now());
    this.#settings.logger.info({ path: file.path, rotated_to: rotated }, 'csv file rotated');
    const maxFiles = this.#config.rotation.max_files;
    if (maxFiles !== undefined) {
      const deleted = await pruneRotated(file.path, maxFiles);
      if (deleted.length > 0) this.#settings.logger.info({ deleted }, 'deleted the oldest rotated csv files');
    }
    return this.#ensureOpen();
  }

  #armRotationTimer(file: CsvFile): void {
    const { interval } = this.#config.rotation;
    if (interval === undefined || this.#closed) return;
    if (this.#rotationTimer !== undefined) clearTimeout(this.#rotationTimer);
    const delay = Math.min(Math.max(file.createdAt + interval - this.#now(), 0), interval, MAX_TIMER_MS);
    this.#rotationTimer = setTimeout(() => {
      this.#rotationTimer = undefined;
      void this.#drain(); // Rotates a file that is due even when no rows arrive; never rejects.
    }, delay);
    this.#rotationTimer.unref();
  }

  /**
   * Takes what is queued and writes it, rotating between batches when a rotation is due (a
   * batch is never split across files). Each batch's callback fires after its write; when a
   * file operation fails the batches not yet written fail with that error and the file is
   * reopened on the next write.
   */
  async #writeQueued(): Promise<void> {
    const taken = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    const settle = (entries: readonly Pending[], result: ExportResult): void => {
      for (const entry of entries) {
        this.#bufferedBytes -= entry.bytes;
        try {
          entry.callback(result);
        } catch (error) {
          // A callback that throws is the caller's bug; it must not fail the other batches.
          this.#errors.report('callback', error);
        }
      }
    };
    let done = 0;
    try {
      if (taken.length === 0) {
        const file = this.#file;
        if (file !== undefined && this.#rotationDue(file, 0)) await this.#rotate(file);
        else if (file !== undefined) this.#armRotationTimer(file);
        return;
      }
      let file = await this.#ensureOpen();
      while (done < taken.length) {
        if (this.#rotationDue(file, taken[done]?.data.length ?? 0)) file = await this.#rotate(file);
        // Everything that fits before the next rotation goes out in one write.
        let end = done + 1;
        let bytes = taken[done]?.data.length ?? 0;
        while (end < taken.length && !this.#passesMaxSize(file, bytes + (taken[end]?.data.length ?? 0))) {
          bytes += taken[end]?.data.length ?? 0;
          end += 1;
        }
        const group = taken.slice(done, end);
        await writeAllToFile(
          file,
          group.map((entry) => entry.data),
        );
        done = end;
        for (const entry of group) this.#buffers.give(entry.buffer);
        settle(group, { code: ExportResultCode.SUCCESS });
      }
      this.#errors.recovered('file');
      this.#armRotationTimer(file);
    } catch (error) {
      const err = toError(error);
      settle(taken.slice(done), { code: ExportResultCode.FAILED, error: err });
      const file = this.#file;
      this.#file = undefined;
      if (file !== undefined) {
        await closeCsvFile(file).catch((closeError: unknown) => {
          this.#errors.report('close', closeError);
        });
      }
      throw err;
    }
  }

  /** Whether writing `bytes` more to the file would take it past max_size. */
  #passesMaxSize(file: CsvFile, bytes: number): boolean {
    const { max_size } = this.#config.rotation;
    return max_size !== undefined && file.size + bytes > max_size;
  }
}
