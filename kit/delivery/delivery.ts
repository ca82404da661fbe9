import type { BatchObservableCallback, Counter, Observable } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentSettings } from '../component.ts';
import { ErrorLog } from '../error-log.ts';
import { toError } from '../errors.ts';
import { countPoints } from '../metrics-data.ts';
import type { DeliveryConfig } from './config.ts';
import type { StoredRecord } from './file-store.ts';
import { FileStore } from './file-store.ts';
import { decodeBatches } from '../otlp/decode.ts';
import { encodeExportRequest } from '../otlp/encode.ts';
import { backoffDelay, ExportFailure } from './retry.ts';

/**
 * Delivery for push exporters: the OpenTelemetry Collector's `sending_queue` and
 * `retry_on_failure`. A batch is encoded once in OTLP protobuf (or by the exporter, in its own
 * format: {@link Delivery.exportEncoded}, {@link Delivery.exportDeferred}), queued (in memory or in
 * append-only files), and sent by `num_consumers` consumers in queue order. A retryable
 * failure puts the batch back and makes the destination "failing": only a probe goes then,
 * the oldest batch alone, after the exponential backoff with jitter capped at
 * {@link PROBE_INTERVAL_MS}; the first success ends it and the backlog drains at full
 * speed (coalesced, every consumer). A batch is given up at `max_elapsed_time` after its
 * first failed send, never by default for a persistent queue.
 *
 * Delivery is at-least-once: a batch leaves the queue only after the backend acknowledged
 * it, so a batch whose acknowledgement was lost (a timeout, a crash between sending and
 * recording) is sent again. Duplicates are not marked: they are identical points (same
 * resource, attributes, timestamps and values), which backends that key samples by series
 * and timestamp (Prometheus, Mimir, most TSDBs) store once.
 *
 * Telemetry: points dropped when a bound is hit (`queue_full`), left in a memory queue at
 * shutdown (`shutdown`) or unreadable from disk (`corrupt`) are counted as dropped; points
 * whose send failed for good (a non-retryable error, retries exhausted, rejected by the
 * backend as partial success) are counted as failed. Every case is logged once per distinct
 * error.
 */

/** One send of one queued batch. */
export interface SendRequest {
  /** The batch as an OTLP `ExportMetricsServiceRequest` (protobuf). */
  readonly bytes: Uint8Array;
  readonly points: number;
  /** The batch in the SDK's model (decoded from `bytes` when the queue kept only those). */
  batch(): ResourceMetrics;
}

/**
 * A batch an exporter encodes itself in its own wire format, and only when it is needed
 * ({@link Delivery.exportDeferred}): a memory queue keeps the payload in whatever form the
 * exporter chose and encodes it at each send, so that the bytes live only while they are sent
 * (an exporter can then encode into a buffer it reuses); a persistent queue encodes it once,
 * to store the bytes, and so does a delivery without a queue. Encoding must give the same
 * bytes every time.
 */
export interface DeferredPayload {
  /** What the memory queue counts for `max_bytes` (the exporter says what it measures). */
  readonly estimatedBytes: number;
  /** The bytes to send. Throws on a payload that cannot be encoded (failed for good). */
  encode(): Uint8Array;
  /**
   * Called once when a memory queue is done with the payload (sent, given up, dropped or left
   * at shutdown), after its last encoding was sent: the exporter may reuse what it holds.
   */
  release?(): void;
}

/** What a send achieved. `rejected` points were refused by the backend (partial success). */
export type SendResult =
  { ok: true; rejected?: number; message?: string } | { ok: false; error: ExportFailure };

/** Sends one batch once. Resolves (never rejects) with the outcome. */
export type Sender = (request: SendRequest) => Promise<SendResult>;

/** What the queue holds now. */
export interface DeliveryStatus {
  readonly queuedBatches: number;
  readonly queuedPoints: number;
  readonly queuedBytes: number;
  readonly inFlight: number;
  /** Points acknowledged by the backend since start. */
  readonly sentPoints: number;
}

/** Test seams: the clock and the random source of the jitter. */
export interface DeliveryOptions {
  readonly random?: () => number;
  readonly now?: () => number;
  /** Segment file size of the persistent queue. */
  readonly segmentBytes?: number;
  /**
   * Longest wait of `forceFlush` (default 10 s: the service gives an exporter 15 s to flush
   * and shut down).
   */
  readonly flushTimeoutMs?: number;
  /**
   * Most bytes of queued batches sent together in one request when several are waiting (a
   * backlog after an outage): their protobuf encodings concatenated, which is one
   * `ExportMetricsServiceRequest` holding all their resource metrics, in queue order. Only
   * for senders that send `bytes` as they are (the `otlp` exporter): `batch()` of such a
   * request keeps only the first batch's resource. 0 or absent: one batch per request.
   */
  readonly coalesceBytes?: number;
  /** Longest wait between two probes of a failing destination (default {@link PROBE_INTERVAL_MS}). */
  readonly probeIntervalMs?: number;
}

interface Entry {
  readonly seq: number;
  readonly points: number;
  readonly size: number;
  readonly payload?: Uint8Array | undefined;
  /** A memory queue's payload encoded at each send (see {@link DeferredPayload}). */
  readonly deferred?: DeferredPayload | undefined;
  readonly stored?: StoredRecord | undefined;
  inFlight: boolean;
  /** A batch kept from the export call, to avoid decoding it again. */
  batch?: ResourceMetrics | undefined;
  /** When its first send that failed began (for `max_elapsed_time`). */
  firstAttempt?: number | undefined;
}

/**
 * `retry_on_failure.max_elapsed_time` when the operator set none, for a memory queue; a
 * persistent queue then retries without end (its batches are safe on disk).
 */
export const DEFAULT_MAX_ELAPSED_MS = 5 * 60_000;

/**
 * Longest wait between two probes of a failing destination while batches wait in the queue:
 * a destination that comes back is sent to within this long, however long it was away. A
 * probe is one request holding the oldest batch alone.
 */
export const PROBE_INTERVAL_MS = 5_000;

/** The sending queue and retry loop of one exporter. */
export class Delivery {
  readonly #settings: ComponentSettings;
  readonly #config: DeliveryConfig;
  readonly #send: Sender;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #flushTimeoutMs: number;
  readonly #coalesceBytes: number;
  readonly #errors: ErrorLog;
  readonly #store: FileStore | undefined;
  /** Queued batches by sequence number, oldest first (Maps iterate in insertion order). */
  readonly #queue = new Map<number, Entry>();
  #queuedPoints = 0;
  #queuedBytes = 0;
  #inFlight = 0;
  /** The destination is failing: only the probe goes until one send succeeds. */
  #failing = false;
  /** Retryable failures since the last success (the backoff exponent of the next probe). */
  #failures = 0;
  #probeDue = false;
  #probeTimer: NodeJS.Timeout | undefined;
  readonly #probeIntervalMs: number;
  #sentPoints = 0;
  #nextSeq = 1;
  /** Sequence numbers being written to disk, oldest first. */
  readonly #appending = new Set<number>();
  #started: Promise<void> | undefined;
  #stopping = false;
  readonly #stop = new AbortController();
  readonly #consumers = new Set<Promise<void>>();
  #idleWaiters: (() => void)[] = [];
  readonly #sent: Counter;
  readonly #observe: BatchObservableCallback;
  readonly #observed: Observable[];

  constructor(
    settings: ComponentSettings,
    config: DeliveryConfig,
    send: Sender,
    options: DeliveryOptions = {},
  ) {
    this.#settings = settings;
    this.#config = config;
    this.#send = send;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this.#coalesceBytes = options.coalesceBytes ?? 0;
    this.#probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
    this.#errors = new ErrorLog(settings.logger);
    const queue = config.sending_queue;
    if (queue.enabled && queue.storage === 'file' && queue.directory !== undefined) {
      this.#store = new FileStore(
        queue.directory,
        options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes },
      );
    }
    const attributes = { 'component.id': settings.id };
    this.#sent = settings.meter.createCounter('inframeter.exporter.points.sent', {
      unit: '{point}',
      description: 'Data points the backend acknowledged.',
      valueType: ValueType.INT,
    });
    const size = settings.meter.createObservableGauge('inframeter.exporter.queue.size', {
      unit: '{point}',
      description: 'Data points waiting in the sending queue (being sent included).',
      valueType: ValueType.INT,
    });
    const bytes = settings.meter.createObservableGauge('inframeter.exporter.queue.bytes', {
      unit: 'By',
      description:
        'Bytes waiting in the sending queue, as the exporter sends them (OTLP protobuf unless it encodes its own; estimated for batches it encodes when sent).',
      valueType: ValueType.INT,
    });
    this.#observe = (result) => {
      result.observe(size, this.#queuedPoints, attributes);
      result.observe(bytes, this.#queuedBytes, attributes);
    };
    this.#observed = [size, bytes];
    settings.meter.addBatchObservableCallback(this.#observe, this.#observed);
  }

  /** Opens the persistent queue and replays what it holds. Idempotent. */
  start(): Promise<void> {
    this.#started ??= this.#open();
    return this.#started;
  }

  async #open(): Promise<void> {
    if (this.#store === undefined) return;
    const report = await this.#store.open();
    this.#nextSeq = report.lastSeq + 1;
    for (const record of report.records) {
      this.#queue.set(record.seq, {
        seq: record.seq,
        points: record.points,
        size: record.size,
        stored: record,
        inFlight: false,
      });
      this.#queuedPoints += record.points;
      this.#queuedBytes += record.size;
    }
    if (report.torn > 0 || report.corrupt > 0) {
      this.#settings.telemetry.dropped(report.corruptPoints, 'corrupt');
      this.#settings.logger.warn(
        {
          directory: this.#store.directory,
          torn: report.torn,
          corrupt: report.corrupt,
          points: report.corruptPoints,
        },
        'persistent queue: skipped damaged records (a write cut short by a crash, or a bad checksum)',
      );
    }
    if (report.records.length > 0) {
      this.#settings.logger.info(
        { directory: this.#store.directory, batches: report.records.length, points: this.#queuedPoints },
        'persistent queue: replaying batches left by the previous run',
      );
    }
    this.#enforceBounds();
    this.#dispatch();
  }

  /** What the queue holds now. */
  status(): DeliveryStatus {
    return {
      queuedBatches: this.#queue.size,
      queuedPoints: this.#queuedPoints,
      queuedBytes: this.#queuedBytes,
      inFlight: this.#inFlight,
      sentPoints: this.#sentPoints,
    };
  }

  /**
   * True when the sending queue is enabled and kept in memory: what an exporter hands to
   * {@link exportDeferred} then waits unencoded, in the form the exporter chose.
   */
  get queuesInMemory(): boolean {
    return this.#config.sending_queue.enabled && this.#store === undefined;
  }

  /** Fails an export that arrives after shutdown began; true when it did. */
  #refusedAfterShutdown(callback: (result: ExportResult) => void): boolean {
    if (!this.#stopping) return false;
    callback({
      code: ExportResultCode.FAILED,
      error: new Error(`exporter ${this.#settings.id} is shut down`),
    });
    return true;
  }

  /**
   * Takes a batch. With the queue enabled, the callback reports whether it was queued (for
   * `storage: file`, written to disk); otherwise it reports the outcome of sending it, retries
   * included. Never throws; calls the callback once.
   */
  export(batch: ResourceMetrics, callback: (result: ExportResult) => void): void {
    const points = countPoints(batch);
    if (points === 0) {
      callback({ code: ExportResultCode.SUCCESS });
      return;
    }
    if (this.#refusedAfterShutdown(callback)) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeExportRequest([batch]);
    } catch (error) {
      callback({ code: ExportResultCode.FAILED, error: toError(error) });
      return;
    }
    if (!this.#config.sending_queue.enabled) {
      void this.#deliverNow(batch, bytes, points, callback);
      return;
    }
    void this.#enqueue(bytes, points, callback);
  }

  /**
   * Takes a payload the exporter encoded itself (its own wire format, such as a Prometheus
   * remote-write request), counted as `points`, and queues or sends it as {@link export}
   * does. The persistent queue stores these bytes as they are, so a `Sender` of such a
   * delivery sends `request.bytes` and must not call `request.batch()` (which decodes OTLP).
   * Never throws; calls the callback once.
   */
  exportEncoded(payload: Uint8Array, points: number, callback: (result: ExportResult) => void): void {
    if (payload.length === 0) {
      callback({ code: ExportResultCode.SUCCESS });
      return;
    }
    if (this.#refusedAfterShutdown(callback)) return;
    if (!this.#config.sending_queue.enabled) {
      void this.#deliverNow(undefined, payload, points, callback);
      return;
    }
    void this.#enqueue(payload, points, callback);
  }

  /**
   * Takes a payload the exporter encodes itself, counted as `points`, and queues or sends it as
   * {@link exportEncoded} does; a memory queue keeps it unencoded until it is sent (see
   * {@link DeferredPayload}). Never throws; calls the callback once.
   */
  exportDeferred(payload: DeferredPayload, points: number, callback: (result: ExportResult) => void): void {
    if (points === 0) {
      callback({ code: ExportResultCode.SUCCESS });
      return;
    }
    if (this.#refusedAfterShutdown(callback)) return;
    if (this.queuesInMemory) {
      void this.#enqueue(payload, points, callback);
      return;
    }
    // Sent now or stored on disk: encoded once, here.
    let bytes: Uint8Array;
    try {
      bytes = payload.encode();
    } catch (error) {
      callback({ code: ExportResultCode.FAILED, error: toError(error) });
      return;
    }
    this.exportEncoded(bytes, points, callback);
  }

  async #deliverNow(
    batch: ResourceMetrics | undefined,
    bytes: Uint8Array,
    points: number,
    callback: (result: ExportResult) => void,
  ): Promise<void> {
    const entry: Entry = { seq: 0, points, size: bytes.length, payload: bytes, inFlight: true, batch };
    const outcome = await this.#attempt([entry]);
    if (outcome === 'sent') callback({ code: ExportResultCode.SUCCESS });
    else
      callback({
        code: ExportResultCode.FAILED,
        error: outcome === 'stopped' ? new Error('exporter shut down during retries') : outcome,
      });
  }

  /** Encoded bytes, or (memory queue only) a payload encoded when it is sent. */
  async #enqueue(
    payload: Uint8Array | DeferredPayload,
    points: number,
    callback: (result: ExportResult) => void,
  ): Promise<void> {
    try {
      await this.start();
      const seq = this.#nextSeq;
      this.#nextSeq += 1;
      const bytes = payload instanceof Uint8Array ? payload : undefined;
      const deferred = payload instanceof Uint8Array ? undefined : payload;
      const size = bytes?.length ?? deferred?.estimatedBytes ?? 0;
      let stored: StoredRecord | undefined;
      if (this.#store !== undefined && bytes !== undefined) {
        this.#appending.add(seq);
        try {
          stored = await this.#store.append(seq, points, bytes);
        } finally {
          this.#appending.delete(seq);
        }
      }
      const entry: Entry = {
        seq,
        points,
        size,
        // Only the encoded bytes are kept (or the exporter's payload, counted as the bytes it
        // will make), so that max_bytes bounds the memory the queue holds.
        payload: stored === undefined ? bytes : undefined,
        deferred,
        stored,
        inFlight: false,
      };
      this.#queue.set(seq, entry);
      this.#queuedPoints += points;
      this.#queuedBytes += size;
      this.#errors.recovered('enqueue');
      callback({ code: ExportResultCode.SUCCESS });
      this.#enforceBounds();
      this.#dispatch();
    } catch (error) {
      this.#errors.report('enqueue', error);
      callback({ code: ExportResultCode.FAILED, error: toError(error) });
    }
  }

  /** Drops the oldest batches not being sent until both bounds hold. */
  #enforceBounds(): void {
    const { queue_size: maxPoints, max_bytes: maxBytes } = this.#config.sending_queue;
    if (this.#queuedPoints <= maxPoints && this.#queuedBytes <= maxBytes) return;
    let droppedPoints = 0;
    let droppedBatches = 0;
    for (const entry of this.#queue.values()) {
      if (this.#queuedPoints <= maxPoints && this.#queuedBytes <= maxBytes) break;
      if (entry.inFlight) continue;
      this.#remove(entry);
      droppedPoints += entry.points;
      droppedBatches += 1;
    }
    if (droppedBatches === 0) return;
    this.#settings.telemetry.dropped(droppedPoints, 'queue_full');
    this.#errors.report(
      'queue_full',
      new Error(
        `sending queue full (queue_size ${maxPoints} points, max_bytes ${maxBytes}): dropping the oldest batches`,
      ),
    );
    this.#settings.logger.debug(
      { batches: droppedBatches, points: droppedPoints },
      'dropped the oldest queued batches',
    );
  }

  #remove(entry: Entry): void {
    if (!this.#queue.delete(entry.seq)) return;
    entry.deferred?.release?.();
    this.#queuedPoints -= entry.points;
    this.#queuedBytes -= entry.size;
    if (this.#queue.size === 0) this.#errors.recovered('queue_full');
    if (this.#store !== undefined) {
      // Done up to just before the oldest batch still queued or still being written.
      const queued = this.#queue.keys().next();
      const writing = this.#appending.values().next();
      const oldest = Math.min(
        queued.done === true ? this.#nextSeq : queued.value,
        writing.done === true ? this.#nextSeq : writing.value,
      );
      this.#store.commit(oldest - 1);
    }
    this.#notifyIdle();
  }

  #dispatch(): void {
    if (this.#stopping) return;
    if (this.#failing) {
      // The destination is failing: nothing goes but the probe, the oldest batch alone.
      if (!this.#probeDue || this.#inFlight > 0) return;
      const head = this.#queue.values().next();
      if (head.done === true || head.value.inFlight) return;
      this.#probeDue = false;
      this.#launch([head.value]);
      return;
    }
    const limit = this.#config.sending_queue.num_consumers;
    if (this.#inFlight >= limit) return;
    let group: Entry[] = [];
    let groupBytes = 0;
    const launch = (): void => {
      if (group.length === 0) return;
      const members = group;
      group = [];
      groupBytes = 0;
      this.#launch(members);
    };
    for (const entry of this.#queue.values()) {
      if (this.#inFlight >= limit) break;
      if (entry.inFlight) {
        // A group holds consecutive batches only: queue order is kept within a request.
        launch();
        continue;
      }
      if (group.length > 0 && groupBytes + entry.size > this.#coalesceBytes) launch();
      if (this.#inFlight >= limit) break;
      group.push(entry);
      groupBytes += entry.size;
    }
    if (this.#inFlight < limit) launch();
  }

  #launch(members: Entry[]): void {
    for (const m of members) m.inFlight = true;
    this.#inFlight += 1;
    const consumer: Promise<void> = this.#consume(members).finally(() => {
      this.#consumers.delete(consumer);
    });
    this.#consumers.add(consumer);
  }

  /**
   * Sends a group of queued batches once. Delivered or failed for good: they leave the queue.
   * A retryable failure puts them back, in place, and the queue waits for the next probe.
   */
  async #consume(group: Entry[]): Promise<void> {
    const outcome = await this.#sendOnce(group);
    this.#inFlight -= 1;
    for (const entry of group) entry.inFlight = false;
    if (outcome.kind === 'sent') {
      // The destination is back: drain at full speed, no backoff carried over.
      this.#recover();
      for (const entry of group) this.#remove(entry);
      this.#dispatch();
      return;
    }
    const retry = this.#config.retry_on_failure;
    if (outcome.kind === 'retryable' && retry.enabled) {
      const failure = outcome.failure;
      if (this.#stopping) {
        // Left in the queue: replayed on the next start (file), counted at shutdown (memory).
        this.#notifyIdle();
        return;
      }
      const delay = this.#nextProbeDelay(failure);
      const now = this.#now();
      const maxElapsed = this.#maxElapsedMs();
      const expired = group.filter((entry) => {
        entry.firstAttempt ??= outcome.started;
        return maxElapsed > 0 && now - entry.firstAttempt + delay > maxElapsed;
      });
      if (expired.length > 0) {
        const points = expired.reduce((sum, e) => sum + e.points, 0);
        this.#settings.telemetry.failed(points);
        const first = expired[0]?.firstAttempt ?? now;
        this.#errors.report(
          'give_up',
          new Error(
            `giving up after ${Math.round(now - first)} ms (retry_on_failure.max_elapsed_time): ${failure.message}`,
            { cause: failure },
          ),
        );
        for (const entry of expired) this.#remove(entry);
      }
      this.#scheduleProbe(delay);
      this.#notifyIdle();
      return;
    }
    // Not retryable, retries disabled, or unreadable from disk: failed for good.
    for (const entry of group) this.#remove(entry);
    this.#dispatch();
  }

  /**
   * `retry_on_failure.max_elapsed_time`; when the operator set none, 5 minutes for a memory
   * queue and never for a persistent one (what is on disk is never dropped by a deadline).
   */
  #maxElapsedMs(): number {
    return (
      this.#config.retry_on_failure.max_elapsed_time ??
      (this.#store === undefined ? DEFAULT_MAX_ELAPSED_MS : 0)
    );
  }

  /**
   * The wait before the next probe: what the server asked for, else the backoff of the
   * failing streak capped at the probe interval, so that a returning destination is seen
   * within `probeIntervalMs` whatever the length of the outage.
   */
  #nextProbeDelay(failure: ExportFailure): number {
    if (failure.retryAfterMs !== undefined) return failure.retryAfterMs;
    const delay = backoffDelay(this.#config.retry_on_failure, this.#failures, this.#random);
    return Math.min(delay, this.#probeIntervalMs);
  }

  /** Enters (or stays in) the failing state, with one probe due after `delay`. */
  #scheduleProbe(delay: number): void {
    this.#failures += 1;
    this.#failing = true;
    // Consumers failing together (num_consumers > 1) schedule one probe, the first one.
    if (this.#probeTimer !== undefined || this.#probeDue) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      this.#probeDue = true;
      this.#dispatch();
    }, delay);
    this.#probeTimer.unref();
  }

  /** A send succeeded: leaves the failing state. */
  #recover(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#failures = 0;
    this.#probeDue = false;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** Sends a group of consecutive batches as one request, once. */
  async #sendOnce(
    group: Entry[],
  ): Promise<
    | { kind: 'sent' }
    | { kind: 'retryable'; failure: ExportFailure; started: number }
    | { kind: 'failed'; error: Error }
  > {
    const points = group.reduce((sum, e) => sum + e.points, 0);
    const started = this.#now();
    let bytes: Uint8Array;
    const encoded = new Map<Entry, Uint8Array>();
    try {
      for (const e of group) if (e.deferred !== undefined) encoded.set(e, e.deferred.encode());
    } catch (error) {
      // The exporter cannot encode it: failed for good (the next attempt would fail alike).
      this.#errors.report('encode', error);
      if (this.#config.sending_queue.enabled) this.#settings.telemetry.failed(points);
      return { kind: 'failed', error: toError(error) };
    }
    try {
      const parts = await Promise.all(
        group.map((e) => {
          const payload = encoded.get(e) ?? e.payload;
          return payload === undefined ? this.#readStored(e) : Promise.resolve(payload);
        }),
      );
      bytes = parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
    } catch (error) {
      this.#settings.telemetry.dropped(points, 'corrupt');
      this.#errors.report('read', error);
      return { kind: 'failed', error: toError(error) };
    }
    if (bytes.length === 0) return { kind: 'sent' };
    // A lone batch keeps its decoded form for the next attempt.
    const single = group.length === 1 ? group[0] : undefined;
    const request: SendRequest = {
      bytes,
      points,
      batch: () => {
        if (single === undefined) return mergeBatches(decodeBatches(bytes));
        single.batch ??= mergeBatches(decodeBatches(bytes));
        return single.batch;
      },
    };
    let result: SendResult;
    try {
      result = await this.#send(request);
    } catch (error) {
      // A sender must resolve; a throw is a bug, not a transient failure.
      result = {
        ok: false,
        error: new ExportFailure(`sender failed: ${toError(error).message}`, {
          retryable: false,
          cause: error,
        }),
      };
    }
    if (result.ok) {
      this.#sentPoints += points - (result.rejected ?? 0);
      this.#sent.add(points - (result.rejected ?? 0), { 'component.id': this.#settings.id });
      this.#errors.recovered('send');
      if (result.rejected !== undefined && result.rejected > 0) {
        this.#settings.telemetry.failed(result.rejected);
        this.#errors.report(
          'partial',
          new Error(`the backend rejected ${result.rejected} points: ${result.message ?? ''}`),
        );
      }
      return { kind: 'sent' };
    }
    const failure = result.error;
    this.#errors.report('send', failure);
    if (failure.retryable && this.#config.retry_on_failure.enabled) {
      return { kind: 'retryable', failure, started };
    }
    if (this.#config.sending_queue.enabled) this.#settings.telemetry.failed(points);
    return { kind: 'failed', error: failure };
  }

  /**
   * Sends one batch without a queue (`sending_queue.enabled: false`), retrying retryable
   * failures with backoff until `max_elapsed_time`. 'sent', 'stopped' or the final error.
   */
  async #attempt(group: Entry[]): Promise<'sent' | 'stopped' | Error> {
    const retry = this.#config.retry_on_failure;
    const maxElapsed = this.#maxElapsedMs();
    const started = this.#now();
    for (let attempt = 0; ; attempt += 1) {
      if (this.#stopping && attempt > 0) return 'stopped';
      const outcome = await this.#sendOnce(group);
      if (outcome.kind === 'sent') return 'sent';
      if (outcome.kind === 'failed') return outcome.error;
      const failure = outcome.failure;
      if (this.#stopping) return 'stopped';
      const delay = failure.retryAfterMs ?? backoffDelay(retry, attempt, this.#random);
      const elapsed = this.#now() - started;
      if (maxElapsed > 0 && elapsed + delay > maxElapsed) {
        const error = new Error(
          `giving up after ${Math.round(elapsed)} ms and ${attempt + 1} attempts: ${failure.message}`,
          { cause: failure },
        );
        this.#errors.report('give_up', error);
        return error;
      }
      await sleep(delay, this.#stop.signal);
    }
  }

  async #readStored(entry: Entry): Promise<Uint8Array> {
    if (this.#store === undefined || entry.stored === undefined)
      throw new Error(`batch ${entry.seq} has no payload`);
    return this.#store.read(entry.stored);
  }

  #notifyIdle(): void {
    if (!this.#idle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Nothing left to send; or, for a persistent queue, nothing can move until the next probe
   * (the backend is failing) and what is left is safe on disk anyway.
   */
  #idle(): boolean {
    if (this.#queue.size === 0 && this.#inFlight === 0) return true;
    return this.#store !== undefined && this.#failing && this.#inFlight === 0;
  }

  /**
   * Resolves when every queued batch is delivered or given up, when a persistent queue's
   * backend is failing (the rest stays on disk), or after `flushTimeoutMs` (what is left is
   * logged; a memory queue drops it at shutdown). Never rejects.
   */
  async forceFlush(): Promise<void> {
    await this.start().catch(() => undefined);
    if (this.#idle()) return;
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      new Promise<boolean>((resolve) =>
        this.#idleWaiters.push(() => {
          resolve(true);
        }),
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, this.#flushTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (!flushed) {
      this.#settings.logger.warn(
        { batches: this.#queue.size, points: this.#queuedPoints, timeout_ms: this.#flushTimeoutMs },
        'flush: the queue did not drain in time',
      );
    }
  }

  /**
   * Stops sending: waits for sends in progress, ends backoff waits. A memory queue's
   * remaining points are counted as dropped; a persistent queue keeps them for the next start.
   */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stop.abort();
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#settings.meter.removeBatchObservableCallback(this.#observe, this.#observed);
    await this.#started?.catch(() => undefined);
    await Promise.all([...this.#consumers]);
    if (this.#store !== undefined) {
      if (this.#queue.size > 0) {
        this.#settings.logger.info(
          { directory: this.#store.directory, batches: this.#queue.size, points: this.#queuedPoints },
          'persistent queue: batches kept for the next start',
        );
      }
      await this.#store.close();
    } else if (this.#queuedPoints > 0) {
      this.#settings.telemetry.dropped(this.#queuedPoints, 'shutdown');
      this.#settings.logger.warn(
        { batches: this.#queue.size, points: this.#queuedPoints },
        'dropping batches left in the memory queue at shutdown (use storage: file to keep them)',
      );
      for (const entry of this.#queue.values()) entry.deferred?.release?.();
      this.#queue.clear();
      this.#queuedPoints = 0;
      this.#queuedBytes = 0;
    }
    this.#notifyIdle();
  }
}

/** Several OTLP ResourceMetrics back into one SDK batch (a queued batch was encoded from one). */
function mergeBatches(batches: ResourceMetrics[]): ResourceMetrics {
  const [first, ...rest] = batches;
  if (first === undefined) throw new Error('queued batch holds no data');
  return rest.length === 0
    ? first
    : { resource: first.resource, scopeMetrics: batches.flatMap((b) => b.scopeMetrics) };
}

/** Waits `ms`, or less when `signal` aborts. The timer does not keep the process alive. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
