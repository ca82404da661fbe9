import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../exporters/csv/config.ts';
import { CsvExporter } from '../exporters/csv/csv.ts';
import { CSV_COLUMNS } from '../exporters/csv/rows.ts';
import {
  AWKWARD_NAME,
  createKnownBatch,
  END,
  KNOWN_BATCH_ROWS,
} from '../exporters/csv/testdata/fixtures/known-batch.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * A file written by the csv exporter loads, as it is, in readers that are not ours: csv-parse,
 * Python's csv module and pandas (Debian's /usr/bin/python3 with python3-pandas; a python3
 * first on PATH may be another one without pandas).
 */

const PYTHON = '/usr/bin/python3';
const hasPython = existsSync(PYTHON);
const hasPandas = hasPython && spawnSync(PYTHON, ['-c', 'import pandas'], { timeout: 60_000 }).status === 0;
if (!process.env.CI && !hasPandas) {
  console.warn(
    `skipping the Python readers: ${PYTHON} with pandas is missing (apt-get install python3-pandas)`,
  );
}

/** Two batches from two hosts, one hour apart, written by one exporter and appended by another. */
const SECOND_END: HrTime = [END[0] + 3600, END[1]];
let dir: string;
let path: string;

async function writeWith(batch: ReturnType<typeof createKnownBatch>): Promise<void> {
  const exporter = new CsvExporter(
    createTestSettings('csv', 'exporter'),
    configSchema.parse({ path, flush_interval: 0 }),
  );
  await exporter.start();
  const code = await new Promise<number>((resolve) => {
    exporter.export(batch, (result) => {
      resolve(result.code);
    });
  });
  expect(code).toBe(ExportResultCode.SUCCESS);
  await exporter.shutdown();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-csv-readers-'));
  path = join(dir, 'metrics.csv');
  await writeWith(createKnownBatch('lab-node-1'));
  await writeWith(createKnownBatch('lab-node-2', SECOND_END));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Row = Record<(typeof CSV_COLUMNS)[number], string>;

/** The 18 rows of one known batch, every column exact. */
function expectedRows(host: string, timestamp: string): Row[] {
  const resource = '{"deployment.environment.name":"lab, rack \\"A\\"","service.name":"inframeter"}';
  const start = '2026-11-22T17:00:00.000Z';
  const route = '{"http.route":"/api,v1"}';
  const bucket = (le: string): string => `{"http.route":"/api,v1","le":"${le}"}`;
  const table: [string, string, string, string, string, boolean][] = [
    ['system.cpu.time', 's', 'counter', '1234.5', '{"cpu":"0","cpu.mode":"user"}', true],
    ['system.cpu.time', 's', 'counter', '98.25', '{"cpu":"0","cpu.mode":"system"}', true],
    [
      'hw.temperature',
      'Cel',
      'gauge',
      '25.5',
      JSON.stringify({ 'hw.id': 'inlet', 'hw.name': AWKWARD_NAME }),
      false,
    ],
    ['hw.temperature', 'Cel', 'gauge', '-3', '{}', false],
    ['system.memory.usage', 'By', 'updowncounter', '8123456789', '{"system.memory.state":"used"}', true],
    ['system.memory.usage', 'By', 'updowncounter', '0', '{"system.memory.state":"free"}', true],
    ['http.server.request.duration.bucket', '1', 'histogram', '3', bucket('0.005'), true],
    ['http.server.request.duration.bucket', '1', 'histogram', '5', bucket('0.1'), true],
    ['http.server.request.duration.bucket', '1', 'histogram', '5', bucket('1'), true],
    ['http.server.request.duration.bucket', '1', 'histogram', '6', bucket('+Inf'), true],
    ['http.server.request.duration.sum', 's', 'histogram', '2.75', route, true],
    ['http.server.request.duration.count', '1', 'histogram', '6', route, true],
    ['http.server.request.duration.min', 's', 'histogram', '0.001', route, true],
    ['http.server.request.duration.max', 's', 'histogram', '2.1', route, true],
    ['rpc.server.duration.count', '1', 'exponential_histogram', '4', '{}', true],
    ['rpc.server.duration.sum', 'ms', 'exponential_histogram', '10', '{}', true],
    ['rpc.server.duration.min', 'ms', 'exponential_histogram', '1', '{}', true],
    ['rpc.server.duration.max', 'ms', 'exponential_histogram', '5', '{}', true],
  ];
  return table.map(([metric, unit, type, value, attributes, withStart]) => ({
    timestamp,
    host,
    metric,
    unit,
    type,
    value,
    attributes,
    resource,
    start_timestamp: withStart ? start : '',
  }));
}

const EXPECTED: Row[] = [
  ...expectedRows('lab-node-1', '2026-11-22T18:00:00.123Z'),
  ...expectedRows('lab-node-2', '2026-11-22T19:00:00.123Z'),
];

function runPython(script: string): unknown {
  const out = execFileSync(PYTHON, ['-c', script, path], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out);
}

describe('csv-parse (columns: true)', () => {
  it('loads every row into the documented columns with the exact values', () => {
    const rows = parse<Row>(readFileSync(path, 'utf8'), { columns: true });
    expect(rows).toHaveLength(2 * KNOWN_BATCH_ROWS);
    expect(Object.keys(rows[0] ?? {})).toEqual([...CSV_COLUMNS]);
    expect(rows).toEqual(EXPECTED);
  });
});

describe.skipIf(!process.env.CI && !hasPython)("Python's csv.DictReader (/usr/bin/python3)", () => {
  it('loads every row into the documented columns with the exact values', () => {
    const result = runPython(`
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    reader = csv.DictReader(f)
    rows = list(reader)
    print(json.dumps({'columns': reader.fieldnames, 'rows': rows}))
`) as { columns: string[]; rows: Row[] };
    expect(result.columns).toEqual([...CSV_COLUMNS]);
    expect(result.rows).toEqual(EXPECTED);
  });
});

describe.skipIf(!process.env.CI && !hasPandas)(
  'pandas read_csv(path) with no options (python3-pandas)',
  () => {
    it('loads the rows with the documented columns and a numeric value column', () => {
      const result = runPython(`
import json, sys
import pandas as pd
df = pd.read_csv(sys.argv[1])
print(json.dumps({
    'rows': len(df),
    'columns': list(df.columns),
    'value_dtype': str(df['value'].dtype),
    'value_sum': float(df['value'].sum()),
    'awkward': json.loads(df.loc[2, 'attributes'])['hw.name'],
    'hosts': sorted(df['host'].unique().tolist()),
}))
`) as Record<string, unknown>;
      expect(result).toEqual({
        rows: 2 * KNOWN_BATCH_ROWS,
        columns: [...CSV_COLUMNS],
        value_dtype: 'float64',
        value_sum: 2 * EXPECTED.slice(0, KNOWN_BATCH_ROWS).reduce((sum, row) => sum + Number(row.value), 0),
        awkward: AWKWARD_NAME,
        hosts: ['lab-node-1', 'lab-node-2'],
      });
    });

    it('pivots with the one-liner of the README', () => {
      const result = runPython(`
import json, sys
import pandas as pd
wide = pd.read_csv(sys.argv[1], parse_dates=['timestamp']).pivot_table(index=['timestamp', 'host'], columns=['metric', 'attributes'], values='value')
print(json.dumps({
    'shape': list(wide.shape),
    'index': [[str(t), h] for t, h in wide.index],
    'temperature': wide[('hw.temperature', '{}')].tolist(),
    'user_cpu': wide[('system.cpu.time', '{"cpu":"0","cpu.mode":"user"}')].tolist(),
    'timestamp_dtype': str(wide.index.levels[0].dtype),
}))
`) as Record<string, unknown>;
      expect(result).toEqual({
        // One column per series: a metric name with one set of attributes.
        shape: [2, KNOWN_BATCH_ROWS],
        index: [
          ['2026-11-22 18:00:00.123000+00:00', 'lab-node-1'],
          ['2026-11-22 19:00:00.123000+00:00', 'lab-node-2'],
        ],
        temperature: [-3, -3],
        user_cpu: [1234.5, 1234.5],
        timestamp_dtype: 'datetime64[ns, UTC]',
      });
    });
  },
);
