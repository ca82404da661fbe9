import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import pg from 'pg';
import type { ComponentSettings, Exporter } from '../../kit/component.ts';
import { Delivery } from '../../kit/delivery/delivery.ts';
import type { DeliveryOptions, SendRequest, SendResult } from '../../kit/delivery/delivery.ts';
import { AttributeCache, decodeMetricsRequest } from '../../kit/otlp/decode.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { toError } from '../../kit/errors.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import type { PostgresqlExporterConfig } from './config.ts';
import { describeTarget, resolveTarget } from './config.ts';
import { writeRows } from './copy.ts';
import { CopyBinaryBuilder } from './copy-binary.ts';
import { CopyTextBuilder } from './copy-text.ts';
import type { RowBuilder } from './copy-text.ts';
import { sqlState, toExportFailure } from './errors.ts';
import { HeldArraysPool, HeldRows, SeriesTable } from './held-rows.ts';
import { convertRows, PointFieldsCache, toCopyRows } from './rows.ts';
import type { Conversion, RowOptions, Rows } from './rows.ts';
import type { SchemaOutcome } from './schema.ts';
import { copyFormat, ensureSchema } from './schema.ts';

/**
 * The `postgresql` exporter: rows into kwollect's `metrics` table by COPY, one COPY per
 * batch, through the shared delivery queue (kit/delivery): queued, retried while the
 * database is unreachable, optionally persisted on disk. On a database without kwollect's
 * schema it creates it (see schema.ts).
 *
 * A batch is converted when it is exported. The memory queue keeps its rows in a compact
 * held form (held-rows.ts: no object per row; the batch's point objects are released) and
 * makes their COPY payload at each send, the same rows every time, into a buffer reused once
 * written; the file queue stores COPY text, so that a replay after a restart writes it to
 * the database as it is; without a queue the payload is sent at once.
 *
 * The payload is COPY's binary form (copy-binary.ts: nothing formatted per row) when the
 * `metrics` columns have exactly kwollect's types, read once the database first answers;
 * COPY text otherwise, before that, and always in the file queue (its records outlive the
 * process, and may be replayed into a table whose types changed).
 */
export class PostgresqlExporter implements Exporter {
  readonly #settings: ComponentSettings;
  readonly #config: PostgresqlExporterConfig;
  readonly #delivery: Delivery;
  readonly #pool: pg.Pool;
  readonly #rowOptions: RowOptions;
  readonly #errors: ErrorLog;
  /** The first metric seen per reason a point was left out (for stable log lines). */
  readonly #examples = new Map<string, string>();
  readonly #decodeCaches = { attributes: new AttributeCache() };
  readonly #fields = new PointFieldsCache();
  /** Receive each batch's rows (conversions run one at a time, synchronously). */
  readonly #textBuilder = new CopyTextBuilder();
  readonly #binaryBuilder = new CopyBinaryBuilder();
  /** True once the table is known to take the binary form. */
  #binary = false;
  /** The series that batches held in the memory queue refer to (replaced when full). */
  #series = new SeriesTable();
  readonly #heldArrays = new HeldArraysPool();
  #schema: Promise<SchemaOutcome> | undefined;
  #started: Promise<void> | undefined;
  #closed = false;

  constructor(settings: ComponentSettings, config: PostgresqlExporterConfig, options: DeliveryOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#errors = new ErrorLog(settings.logger);
    this.#rowOptions = {
      deviceIdAttributes: config.device_id_attributes,
      resourceLabels: config.resource_labels,
    };
    const target = resolveTarget(config);
    this.#pool = new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      ...(target.password === undefined ? {} : { password: target.password.reveal() }),
      max: config.sending_queue.enabled ? config.sending_queue.num_consumers : 4,
      connectionTimeoutMillis: config.timeout,
      statement_timeout: config.timeout,
      keepAlive: true,
      idleTimeoutMillis: 60_000,
      application_name: 'inframeter',
    });
    // An idle connection the server closes (a restart) must not crash the process: the next
    // send opens a new one.
    this.#pool.on('error', (error) => {
      settings.logger.debug({ err: error }, 'idle database connection closed');
    });
    this.#delivery = new Delivery(settings, config, (request) => this.#send(request), options);
  }

  /** Opens (and replays) the persistent queue; creates the schema when the database answers. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    // The database may be down at start: the queue takes batches meanwhile and sends retry.
    this.#ensureSchema().catch((error: unknown) => {
      this.#errors.report('schema', error);
    });
    await this.#delivery.start();
  }

  /** Creates or checks the schema once per process (again after a failure). */
  #ensureSchema(): Promise<SchemaOutcome> {
    this.#schema ??= (async () => {
      const [outcome, format] = await this.#withClient(async (client) => [
        await ensureSchema(client, this.#config.create_schema, this.#settings.logger),
        this.#config.copy_format === 'text'
          ? { binary: false, reason: 'copy_format is text' }
          : await copyFormat(client),
      ]);
      this.#binary = format.binary;
      this.#settings.logger.info(
        {
          database: describeTarget(resolveTarget(this.#config)),
          schema: outcome,
          copy: format.binary ? 'binary' : 'text',
          reason: format.reason,
        },
        outcome === 'existing'
          ? 'writing into the existing metrics table'
          : "created kwollect's schema (metrics, views, nodetime_per_job, promoted_metrics, api.get_metrics)",
      );
      this.#errors.recovered('schema');
      return outcome;
    })();
    this.#schema.catch(() => {
      this.#schema = undefined;
    });
    return this.#schema;
  }

  async #send(request: SendRequest): Promise<SendResult> {
    if (this.#closed) return { ok: false, error: toExportFailure(new Error('exporter shut down')) };
    try {
      await this.#ensureSchema();
      let text = request.bytes;
      if (isOtlpPayload(text)) {
        // A batch queued on disk by a version that queued OTLP: converted now.
        const rows = this.#fromOtlp(text);
        this.#countLeftOut(rows);
        if (rows.rows === 0) return { ok: true };
        text = rows.text;
      }
      const report = await this.#withClient((client) => writeRows(client, text));
      // Written: its buffer can take the next batches.
      this.#textBuilder.recycle(text);
      this.#binaryBuilder.recycle(text);
      if (report.refused.length > 0) {
        this.#settings.telemetry.failed(report.refused.length);
        for (const refused of report.refused) {
          this.#reportLeftOut(
            `refused by the database (SQLSTATE ${sqlState(refused.error) ?? 'unknown'})`,
            `${metricOf(refused.line)}: ${refused.error.message}`,
          );
        }
      }
      if (report.duplicates > 0) {
        this.#settings.logger.debug({ rows: report.duplicates }, 'rows already stored were skipped');
      }
      this.#errors.recovered('send');
      return { ok: true };
    } catch (error) {
      return { ok: false, error: toExportFailure(error) };
    }
  }

  /**
   * Runs `work` on a pooled connection. A connection that fails is closed rather than handed
   * out again; one that gives no answer for `timeout` plus 5 s (a peer gone without closing
   * the connection, which the server's statement_timeout cannot end) is cut, so that the
   * batch is retried on a new one.
   */
  async #withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // Errors of a checked-out connection between statements would otherwise be unhandled.
    const onError = (error: Error): void => {
      this.#settings.logger.debug({ err: error }, 'database connection failed');
    };
    client.on('error', onError);
    const limit = this.#config.timeout + 5_000;
    const guard = setTimeout(() => {
      client.connection.stream.destroy(new Error(`no answer from the database within ${String(limit)} ms`));
    }, limit);
    guard.unref();
    try {
      const result = await work(client);
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (error) {
      client.removeListener('error', onError);
      client.release(error as Error);
      throw error;
    } finally {
      clearTimeout(guard);
    }
  }

  /**
   * COPY text of a queued OTLP request, decoded straight from the wire with a cache that
   * hands the same attributes object to every export of a series.
   */
  #fromOtlp(bytes: Uint8Array): Rows {
    const decoded = decodeMetricsRequest(bytes, this.#decodeCaches);
    const rejected = new Map<string, number>();
    const examples = new Map<string, string>();
    if (decoded.rejected > 0) {
      const reason = `invalid OTLP points: ${decoded.errors.join('; ')}`;
      rejected.set(reason, decoded.rejected);
      examples.set(reason, '');
    }
    const texts: Buffer[] = [];
    let rows = 0;
    for (const batch of decoded.batches) {
      const more = toCopyRows(batch, this.#rowOptions, this.#fields, this.#textBuilder);
      texts.push(more.text);
      rows += more.rows;
      for (const [reason, points] of more.rejected)
        rejected.set(reason, (rejected.get(reason) ?? 0) + points);
      for (const [reason, metric] of more.examples) if (!examples.has(reason)) examples.set(reason, metric);
    }
    return { text: Buffer.concat(texts), rows, rejected, examples };
  }

  /** Counts and logs the points a conversion left out; returns how many. */
  #countLeftOut(rows: Conversion): number {
    let total = 0;
    for (const [reason, points] of rows.rejected) {
      this.#settings.telemetry.failed(points);
      this.#reportLeftOut(reason, rows.examples.get(reason) ?? '');
      total += points;
    }
    return total;
  }

  /** Logs a reason for leaving points out once (with the first metric it was seen on). */
  #reportLeftOut(reason: string, metric: string): void {
    if (!this.#examples.has(reason)) this.#examples.set(reason, metric);
    this.#errors.report(
      `left_out:${reason}`,
      new Error(`points left out: ${reason} (first seen on metric ${this.#examples.get(reason) ?? metric})`),
    );
  }

  /**
   * Converts the batch and hands it to the delivery: as its held form to a memory queue (COPY
   * text made at each send), as COPY text otherwise. Points the store cannot hold are counted
   * (failed) and logged here, once, and are not part of what is queued: a batch dropped later
   * (queue full) counts only the points it holds.
   */
  export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const points = countPoints(batch);
    try {
      this.#convertAndDeliver(batch, points, resultCallback);
    } catch (error) {
      // A conversion that throws is a bug: the batch fails, counted, and the rest goes on
      // (the rows it left in the builder are dropped).
      this.#textBuilder.take();
      this.#binaryBuilder.take();
      this.#settings.telemetry.failed(points);
      this.#errors.report('convert', error);
      resultCallback({ code: ExportResultCode.FAILED, error: toError(error) });
    }
  }

  #convertAndDeliver(
    batch: ResourceMetrics,
    points: number,
    resultCallback: (result: ExportResult) => void,
  ): void {
    if (this.#delivery.queuesInMemory) {
      if (this.#series.full) this.#series = new SeriesTable();
      const held = new HeldRows(this.#series, this.#heldArrays, points);
      const leftOut = this.#countLeftOut(convertRows(batch, this.#rowOptions, this.#fields, held));
      if (points === leftOut) held.release();
      this.#delivery.exportDeferred(
        {
          estimatedBytes: held.bytes,
          encode: () => held.writeTo(this.#builderNow()),
          release: () => {
            held.release();
          },
        },
        points - leftOut,
        resultCallback,
      );
      return;
    }
    // The file queue keeps COPY text (see the top of this class).
    const builder = this.#config.sending_queue.enabled ? this.#textBuilder : this.#builderNow();
    const rows = toCopyRows(batch, this.#rowOptions, this.#fields, builder);
    const leftOut = this.#countLeftOut(rows);
    this.#delivery.exportEncoded(rows.text, points - leftOut, resultCallback);
  }

  /** The builder of the form the table takes, as far as it is known now. */
  #builderNow(): RowBuilder {
    return this.#binary ? this.#binaryBuilder : this.#textBuilder;
  }

  /** What the queue holds now (for tests and diagnostics). */
  status(): ReturnType<Delivery['status']> {
    return this.#delivery.status();
  }

  async forceFlush(): Promise<void> {
    await this.#delivery.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    await this.#delivery.shutdown();
    this.#closed = true;
    await this.#pool.end().catch(() => undefined);
  }

  describe(): string {
    const queue = this.#config.sending_queue;
    const storage = queue.enabled
      ? queue.storage === 'file'
        ? `, queue in ${queue.directory ?? ''}`
        : ', memory queue'
      : '';
    return `PostgreSQL ${describeTarget(resolveTarget(this.#config))} (kwollect metrics table)${storage}`;
  }
}

/**
 * True for a queued OTLP `ExportMetricsServiceRequest` (its first byte is the tag of field 1,
 * `resource_metrics`, 0x0A), false for COPY text, whose lines begin with a timestamp's digit.
 */
function isOtlpPayload(bytes: Uint8Array): boolean {
  return bytes[0] === 0x0a;
}

/** The metric_id of a COPY line (its third field), for messages. */
function metricOf(line: string): string {
  return line.split('\t')[2] ?? '';
}
