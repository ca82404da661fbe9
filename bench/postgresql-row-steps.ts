/**
 * What making a row of the postgresql exporter costs, step by step, in instructions counted by
 * callgrind (which the machine's load does not move). Run each step in a process of its own
 * and subtract the one before (a few minutes each under callgrind):
 *
 *     NODE=$(npm exec -- node -p process.execPath)
 *     for step in make read text binary held held-binary; do
 *       valgrind --tool=callgrind --callgrind-out-file=/dev/null "$NODE" --single-threaded \
 *         bench/postgresql-row-steps.ts $step --passes 12 2>&1 | grep refs
 *     done
 *
 * (`--single-threaded`: the collector's and compiler's work on the one thread counted, so
 * that their timing moves the count less). Every step makes the same batches as
 * bench/postgresql.bench.ts (10,000 gauge points each, a device id and a label, one
 * attributes object per series), `--rows` of them (100,000 by default) `--passes` times (6),
 * and does more with them than the step before:
 *
 * - `make`: only makes the batches (the benchmark leaves this out of our figures);
 * - `read`: converts them into a sink that keeps nothing (reading each point, finding its
 *   series' parts, its time);
 * - `copy`: a sink that copies each row's time, series and labels bytes into a buffer, and not
 *   its value;
 * - `text`: the exporter's COPY text ({@link CopyTextBuilder}): the value's digits too;
 * - `held`: the memory queue's held form, then its COPY text (what the queue adds);
 * - `binary`: COPY's binary form ({@link CopyBinaryBuilder}) in place of the text;
 * - `held-binary`: the held form, then the binary form.
 *
 * Node's start-up and the imports are the same in every step.
 */
import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { CopyBinaryBuilder } from '../exporters/postgresql/copy-binary.ts';
import { CopyTextBuilder } from '../exporters/postgresql/copy-text.ts';
import type { OtherRow, RowBuilder, RowParts, RowSink, RowTime } from '../exporters/postgresql/copy-text.ts';
import { HeldArraysPool, HeldRows, SeriesTable } from '../exporters/postgresql/held-rows.ts';
import { convertRows, PointFieldsCache } from '../exporters/postgresql/rows.ts';
import { batchOf } from '../exporters/postgresql/testdata/batches.ts';

const args = process.argv.slice(2);
const step = args[0] ?? 'text';
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROWS = arg('rows', 100_000);
const PASSES = arg('passes', 6);
const BATCH = 10_000;
const METRICS = 10;
const DEVICES = 1000;

const series = Array.from({ length: METRICS }, () =>
  Array.from({ length: DEVICES }, (_, d) => ({
    device_id: `node-${String(d)}`,
    rack: `rack-${String(d % 40)}`,
  })),
);
const descriptors = Array.from({ length: METRICS }, (_, m) => ({
  name: `kwollect_metric_${String(m)}`,
  description: '',
  unit: '',
  valueType: ValueType.DOUBLE,
}));

/** Batch `index`: one second, every device's METRICS gauges (as bench/postgresql.bench.ts). */
function make(index: number): ResourceMetrics {
  const second = index;
  const time: HrTime = [1_767_225_600 + second, 123_456_000];
  const perMetric = BATCH / METRICS;
  const metrics = descriptors.map((descriptor, m): MetricData => ({
    descriptor,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: Array.from({ length: perMetric }, (_, d) => ({
      startTime: time,
      endTime: time,
      attributes: series[m]?.[d] ?? {},
      value: (second * 7 + m * 13 + d) / 8,
    })),
  }));
  return batchOf(metrics);
}

/** Keeps nothing. */
class NoSink implements RowSink {
  rows = 0;
  pushRow(): void {
    this.rows += 1;
  }
  push(): void {
    this.rows += 1;
  }
}

/** Copies what a text row shares with its series, not the value. */
class CopySink implements RowSink {
  rows = 0;
  #at = 0;
  readonly #buffer: Buffer;
  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }
  pushRow(time: RowTime, parts: RowParts): void {
    if (this.#at > this.#buffer.length - 1024) this.#at = 0;
    const buffer = this.#buffer;
    buffer.set(time.text, this.#at);
    this.#at += time.text.length;
    buffer.set(parts.middle, this.#at);
    this.#at += parts.middle.length;
    buffer.set(parts.tail, this.#at);
    this.#at += parts.tail.length;
    this.rows += 1;
  }
  push(row: OtherRow): void {
    this.rows += row.value === row.value ? 1 : 0;
  }
}

const options = { deviceIdAttributes: ['device_id'], resourceLabels: [] };
const cache = new PointFieldsCache();
const builder: RowBuilder = step.endsWith('binary') ? new CopyBinaryBuilder() : new CopyTextBuilder();
const table = new SeriesTable();
const pool = new HeldArraysPool();
const copyBuffer = Buffer.allocUnsafe(4 << 20);
let checksum = 0;
for (let pass = 0; pass < PASSES; pass += 1) {
  for (let b = 0; b < ROWS / BATCH; b += 1) {
    const batch = make(b);
    switch (step) {
      case 'make':
        checksum += batch.scopeMetrics.length;
        break;
      case 'read': {
        const sink = new NoSink();
        convertRows(batch, options, cache, sink);
        checksum += sink.rows;
        break;
      }
      case 'copy': {
        const sink = new CopySink(copyBuffer);
        convertRows(batch, options, cache, sink);
        checksum += sink.rows;
        break;
      }
      case 'text':
      case 'binary': {
        convertRows(batch, options, cache, builder);
        const bytes = builder.take();
        checksum += bytes.length;
        builder.recycle(bytes);
        break;
      }
      case 'held':
      case 'held-binary': {
        const held = new HeldRows(table, pool, BATCH);
        convertRows(batch, options, cache, held);
        const bytes = held.writeTo(builder);
        checksum += bytes.length;
        builder.recycle(bytes);
        held.release();
        break;
      }
      default:
        throw new Error(`unknown step ${step}`);
    }
  }
}
console.log(`${step}: ${String(ROWS)} rows x ${String(PASSES)} passes, checksum ${String(checksum)}`);
