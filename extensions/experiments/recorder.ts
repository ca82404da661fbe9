import { createWriteStream, existsSync, statSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Attributes } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { toRows } from '../../exporters/csv/index.ts';
import { withPointAttributes } from './labels.ts';
import { RESULT_HEADER } from './result-columns.ts';

/** A field as RFC 4180 wants it: quoted when it holds a comma, a double quote, LF or CR. */
function csvField(field: string): string {
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${field.replaceAll('"', '""')}"`;
  }
  return field;
}

/**
 * Writes what a collector's pipelines export while an experiment runs into the experiment's
 * CSV file: the CSV exporter's rows with the collector's id beside `host`
 * (`RESULT_COLUMNS` in result-columns.ts), every point carrying `experiment.name` and the experiment's labels.
 * Batches are appended in order, one write at a time; a batch's callback fires once its rows
 * are handed to the operating system.
 */
export class ExperimentRecorder {
  readonly #path: string;
  readonly #collector: string;
  readonly #extra: Attributes;
  #stream: WriteStream | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(path: string, collector: string, extra: Attributes) {
    this.#path = path;
    this.#collector = csvField(collector);
    this.#extra = extra;
  }

  /** Opens the file for appending; a new (or empty) file gets the header. */
  async open(): Promise<void> {
    const fresh = !existsSync(this.#path) || statSync(this.#path).size === 0;
    const stream = createWriteStream(this.#path, { flags: 'a' });
    await once(stream, 'open');
    if (fresh) stream.write(RESULT_HEADER);
    this.#stream = stream;
  }

  /** The rows of a batch as CSV text. */
  format(batch: ResourceMetrics): string {
    let text = '';
    for (const row of toRows(withPointAttributes(batch, this.#extra), { includeResource: true })) {
      let line = `${csvField(row[0])},${csvField(row[1])},${this.#collector}`;
      for (let i = 2; i < row.length; i++) line += `,${csvField(row[i] ?? '')}`;
      text += `${line}\n`;
    }
    return text;
  }

  export(batch: ResourceMetrics, done: (result: ExportResult) => void): void {
    const stream = this.#stream;
    if (stream === undefined) {
      done({ code: ExportResultCode.FAILED, error: new Error(`${this.#path}: not open`) });
      return;
    }
    let text: string;
    try {
      text = this.format(batch);
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    this.#tail = this.#tail.then(
      () =>
        new Promise<void>((resolve) => {
          stream.write(text, (error) => {
            done(
              error === null || error === undefined
                ? { code: ExportResultCode.SUCCESS }
                : { code: ExportResultCode.FAILED, error },
            );
            resolve();
          });
        }),
    );
  }

  /** Waits for the writes in flight and closes the file. Safe twice. */
  async close(): Promise<void> {
    await this.#tail;
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined) return;
    stream.end();
    await once(stream, 'close');
  }
}
