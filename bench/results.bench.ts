/**
 * `inframeter results summary` over a generated CSV, and merging many hosts' results.
 *
 *   node bench/results.bench.ts [rows] [hosts]      (default 10000000 rows, 50 hosts)
 *
 * Generates a file shaped like a real experiment's (50 hosts × 200 series, one row per
 * series per second), then measures, each in its own process: the summary (rows per second,
 * peak RSS), pandas doing the same statistics on a 2-million-row slice beside ours on the same
 * slice (Debian python3-pandas, the tool researchers use today), and merging the file split in
 * per-host parts. Needs /usr/bin/time; pandas is skipped with a message when missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_HEADER } from '../exporters/csv/rows.ts';

const ROWS = Number(process.argv[2] ?? 10_000_000);
const HOSTS = Number(process.argv[3] ?? 50);
const SERIES_PER_HOST = 200;
const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'inframeter-results-bench-'));

/** Writes `rows` rows; with `host` set, only that host's rows (a part). */
function generate(path: string, rows: number, only?: number): void {
  const fd = openSync(path, 'w');
  writeSync(fd, CSV_HEADER);
  const start = Date.parse('2026-11-22T10:00:00.000Z');
  let buffer = '';
  let written = 0;
  for (let i = 0; written < rows; i++) {
    const second = Math.floor(i / (HOSTS * SERIES_PER_HOST));
    const host = Math.floor(i / SERIES_PER_HOST) % HOSTS;
    if (only !== undefined && host !== only) continue;
    const series = i % SERIES_PER_HOST;
    const t = new Date(start + second * 1000).toISOString();
    const counter = series % 2 === 0;
    const value = counter ? second * (series + 1) * 0.01 : 100 + Math.sin(second / 10 + series) * 50;
    buffer += `${t},node-${String(host)},bench.metric.${String(series % 20)},s,${counter ? 'counter' : 'gauge'},${String(value)},"{""cpu"":${String(Math.floor(series / 20))}}","{""service.name"":""bench""}",${counter ? '2026-11-22T09:00:00.000Z' : ''}\n`;
    written += 1;
    if (buffer.length > 1 << 20) {
      writeSync(fd, buffer);
      buffer = '';
    }
  }
  writeSync(fd, buffer);
  closeSync(fd);
}

/** Runs a command under /usr/bin/time: wall seconds and peak RSS in MB. */
function timed(command: string, args: string[]): { wall: number; rssMb: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || m === null) throw new Error(`${command} failed: ${r.stderr.slice(-500)}`);
  return { wall: Number(m[1]), rssMb: Number(m[2]) / 1024, stdout: r.stdout };
}

try {
  const file = join(dir, 'results.csv');
  const g0 = performance.now();
  generate(file, ROWS);
  console.log(
    `generated ${String(ROWS)} rows (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
  );

  const ours = timed(process.execPath, [MAIN, 'results', 'summary', '--json', file]);
  const series = (JSON.parse(ours.stdout) as unknown[]).length;
  console.log(
    `summary: ${String(ROWS)} rows, ${String(series)} series in ${ours.wall.toFixed(2)} s = ${(ROWS / ours.wall / 1e6).toFixed(2)} M rows/s, peak RSS ${ours.rssMb.toFixed(0)} MB`,
  );

  const slice = 2_000_000;
  const small = join(dir, 'slice.csv');
  generate(small, slice);
  const oursSmall = timed(process.execPath, [MAIN, 'results', 'summary', '--json', small]);
  const pandasScript = [
    'import sys, pandas as pd',
    'df = pd.read_csv(sys.argv[1])',
    "g = df.groupby(['metric', 'host', 'attributes'])['value']",
    'out = g.agg(["count", "mean", "min", "max"]).join(g.quantile(0.95).rename("p95"))',
    'print(len(out))',
  ].join('\n');
  if (spawnSync('/usr/bin/python3', ['-c', 'import pandas']).status === 0) {
    const pandas = timed('/usr/bin/python3', ['-c', pandasScript, small]);
    console.log(
      `same ${String(slice)}-row slice: inframeter ${oursSmall.wall.toFixed(2)} s / ${oursSmall.rssMb.toFixed(0)} MB, pandas ${pandas.wall.toFixed(2)} s / ${pandas.rssMb.toFixed(0)} MB (${pandas.stdout.trim()} groups); ratio inframeter/pandas: time ${(oursSmall.wall / pandas.wall).toFixed(2)}, RSS ${(oursSmall.rssMb / pandas.rssMb).toFixed(2)}`,
    );
  } else {
    console.log('pandas comparison skipped: install the Debian package python3-pandas');
  }

  const parts: string[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const part = join(dir, `part-${String(h)}.csv`);
    generate(part, Math.floor(ROWS / HOSTS), h);
    parts.push(part);
  }
  const mergeScript = `import { mergeParts } from ${JSON.stringify(join(import.meta.dirname, '..', 'experiments', 'merge.ts'))}; const n = await mergeParts(${JSON.stringify(parts)}, ${JSON.stringify(join(dir, 'merged.csv'))}); console.log(n);`;
  const merge = timed(process.execPath, ['--input-type=module', '-e', mergeScript]);
  const merged = Number(merge.stdout.trim());
  console.log(
    `merge: ${String(HOSTS)} hosts, ${String(merged)} rows (${(statSync(join(dir, 'merged.csv')).size / 2 ** 20).toFixed(0)} MiB) in ${merge.wall.toFixed(2)} s = ${(merged / merge.wall / 1e6).toFixed(2)} M rows/s (each part checked, then copied), peak RSS ${merge.rssMb.toFixed(0)} MB`,
  );
  execFileSync('true');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
