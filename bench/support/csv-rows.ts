import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { configSchema } from '../../exporters/csv/config.ts';
import { CsvExporter } from '../../exporters/csv/csv.ts';
import { CSV_HEADER } from '../../exporters/csv/rows.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import { ScrapeRunner } from '../../kit/scrape-controller.ts';
import { createProcfsClient } from '../../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../../receivers/procfs/config.ts';
import { ProcfsScraper } from '../../receivers/procfs/scraper.ts';
import { createTestSettings } from '../../test/support/settings.ts';

/**
 * The csv exporter's CPU per row, and the floor it is held against: a loop that writes the
 * same bytes with the plainest code (each row's text built on the spot, one write per batch).
 */

export interface RecordedBatch {
  readonly batch: ResourceMetrics;
  readonly rows: number;
}

/** `count` batches of this host's procfs receiver, as its scrape runner collects them. */
export async function recordCsvBatches(count: number): Promise<RecordedBatch[]> {
  const scraper = new ProcfsScraper(createProcfsClient('/'), procfsConfigSchema.parse({}));
  const runner = new ScrapeRunner(scraper, createTestSettings('procfs', 'receiver'));
  const batches: RecordedBatch[] = [];
  for (let i = 0; i < count; i++) {
    const { batch } = await runner.run(10_000);
    batches.push({ batch, rows: countPoints(batch) });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await runner.shutdown();
  return batches;
}

setFlagsFromString('--expose-gc');
/**
 * V8's full garbage collection (`gc()`, exposed at run time: the bench re-executes itself with
 * the collector's flags only), run before either side is measured so that it starts from a
 * clean heap and pays only for its own garbage: the floor's strings and our queued batches
 * otherwise left old-generation work that the other side's window paid for (a mark-compact is
 * tens of milliseconds; a run of ten rounds was a quarter of a second).
 */
const startClean = runInNewContext('gc') as () => void;

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** What one side wrote and its CPU per row. */
export interface CsvFigures {
  readonly usPerRow: number;
  readonly bytes: Buffer;
}

/**
 * The csv exporter (its file at `path`, flush_interval 10 ms rather than 1 s so that a run
 * does not wait) given every batch `rounds` times: each round's batches exported one after the
 * other, then waited for until a flush tick has written them. CPU of export, encoding, queue
 * and writes (no fsync: forceFlush is not called).
 */
export async function measureCsv(
  batches: readonly RecordedBatch[],
  rounds: number,
  path: string,
): Promise<CsvFigures> {
  const exporter = new CsvExporter(
    createTestSettings('csv', 'exporter'),
    configSchema.parse({ path, flush_interval: '10ms' }),
  );
  await exporter.start();
  let rows = 0;
  startClean();
  const start = cpuUs();
  for (let round = 0; round < rounds; round++) {
    const written = batches.map(
      ({ batch, rows: n }) =>
        new Promise<void>((resolve, reject) => {
          rows += n;
          exporter.export(batch, (result: ExportResult) => {
            if (result.code === ExportResultCode.SUCCESS) resolve();
            else reject(result.error ?? new Error('csv export failed'));
          });
        }),
    );
    await Promise.all(written);
  }
  const us = cpuUs() - start;
  await exporter.shutdown();
  return { usPerRow: us / rows, bytes: readFileSync(path) };
}

const iso = (time: HrTime): string => new Date(time[0] * 1000 + Math.floor(time[1] / 1e6)).toISOString();
const quoted = (field: string): string =>
  /[",\n\r]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;

/** Attributes as JSON with their keys in order, as the csv format has them. */
const sortedJson = (attributes: Attributes): string =>
  JSON.stringify(
    Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );

/**
 * The floor: the same file written by the plainest code that does not repeat work: per batch,
 * a metric's `host,name,unit,type,` once, a timestamp's text once per distinct time, an
 * attribute set's cell once per set (kept while the set lives); per row, the value's text and
 * one string concatenation; one write of the batch's text.
 */
export function measureCsvFloor(batches: readonly RecordedBatch[], rounds: number, path: string): CsvFigures {
  const fd = openSync(path, 'w');
  const cells = new WeakMap<Attributes, string>();
  const cell = (attributes: Attributes): string => {
    let text = cells.get(attributes);
    if (text === undefined) {
      text = quoted(sortedJson(attributes));
      cells.set(attributes, text);
    }
    return text;
  };
  let rows = 0;
  startClean();
  const start = cpuUs();
  writeSync(fd, CSV_HEADER);
  for (let round = 0; round < rounds; round++) {
    for (const { batch, rows: n } of batches) {
      rows += n;
      const { 'host.name': host, ...rest } = batch.resource.attributes;
      const resource = quoted(sortedJson(rest));
      const times = new Map<number, string>();
      const timeText = (time: HrTime): string => {
        const key = time[0] * 1e9 + time[1];
        let text = times.get(key);
        if (text === undefined) {
          text = iso(time);
          times.set(key, text);
        }
        return text;
      };
      let text = '';
      for (const scope of batch.scopeMetrics) {
        for (const metric of scope.metrics) {
          const { name, unit } = metric.descriptor;
          // The procfs receiver gives gauges and sums only.
          if (metric.dataPointType !== DataPointType.GAUGE && metric.dataPointType !== DataPointType.SUM) {
            throw new Error(`the csv floor writes gauges and sums only, not ${name}`);
          }
          const gauge = metric.dataPointType === DataPointType.GAUGE;
          const type = gauge ? 'gauge' : metric.isMonotonic ? 'counter' : 'updowncounter';
          const head = `,${String(host)},${name},${unit},${type},`;
          for (const point of metric.dataPoints) {
            const tail = `,${cell(point.attributes)},${resource},${gauge ? '' : timeText(point.startTime)}\n`;
            text += timeText(point.endTime) + head + String(point.value) + tail;
          }
        }
      }
      writeSync(fd, text);
    }
  }
  const us = cpuUs() - start;
  closeSync(fd);
  return { usPerRow: us / rows, bytes: readFileSync(path) };
}
