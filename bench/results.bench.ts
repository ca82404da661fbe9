/**
 * `inframeter results` at the scale of a cluster, beside pandas on the same file.
 *
 *   node bench/results.bench.ts [hosts] [series] [seconds]     (default 100 × 500 × 200 = 10 M rows)
 *   node bench/results.bench.ts cluster [hosts] [series] [seconds]
 *                                   (default 1,000 × 500 × 360 = 180 M rows, summary and report)
 *   node bench/results.bench.ts report [hosts] [series] [seconds]
 *                                   (same default: the report alone, RESULTS_BENCH_RUNS times)
 *   node bench/results.bench.ts csv-reader [hosts] [series] [seconds]
 *                                   (DuckDB's CSV reader settings compared on the same file)
 *   node bench/results.bench.ts csv-profile [hosts] [series] [seconds]
 *                                   (where the CPU of the summary on CSV goes, beside DuckDB's COUNT(*))
 *
 * Generates (with DuckDB) results shaped like a real experiment's: per host 256 CPU-time
 * counters (32 CPUs × 8 modes, busy in the middle third), 4 memory states and 240 network
 * counters, one row per series per second, written as Parquet and, through `results
 * convert`, as CSV. Then measures, each in its own process under /usr/bin/time, the built
 * CLI's `results summary --json` on each format (rows per second, peak RSS), the same with
 * `--p95`, and on the same files: DuckDB's own floors (a Node.js process that loads DuckDB
 * and runs `COUNT(*)`, then one that groups the rows by series with `count(*)`, the least a
 * summary must read and group), polars (nodejs-polars: scan, group by series, count, mean,
 * min, max) on the Parquet file, and pandas (Debian's python3-pandas: read_csv, then groupby
 * count, mean, min and max) on the CSV. Each figure is printed with its ratio to the floor
 * measured in the same run. On CSV the floors (DuckDB's `COUNT(*)` and `SUM(value)` through
 * the summary's reader) and the summary run interleaved, ROUNDS times (3 by default), the
 * worst of each quoted; each with its CPU time (user + system), whose rows per CPU-second
 * times the cores bound what the machine could do with no other work on it. `csv-reader`
 * runs, in one process and interleaved, DuckDB's CSV reader with the summary's settings and
 * variants of them (buffer size, no parallel reading, types, strict mode), each reading the
 * columns a summary reads (and two reading one column: a plain one, a quoted JSON one), and
 * prints the CPU time of each. `csv-profile` runs DuckDB's `COUNT(*)` of the CSV and `results
 * summary --json` of it, interleaved ROUNDS times, each under `perf record -e cpu-clock` (Debian's
 * linux-perf; software clock samples, so it works in a VM without hardware counters), and prints
 * each one's CPU time split by what the sampled functions do (parsing the CSV, unquoting, text
 * values, timestamps, grouping, aggregates, kernel, Node.js), in seconds and shares: what the
 * summary costs beyond the floor, and where. `cluster` summarizes and reports a generated 1,000-host experiment
 * end to end: 1,000 hosts × 500 series is the full 500,000 series of the 1.8-billion-row
 * scenario; its hour is scaled to `seconds` (360 by default, for a run of a few minutes; 3600
 * is the full hour, about 5 GiB of Parquet), which changes the rows, not the memory (bounded
 * by the series). The load average is
 * printed beside each figure: the machine is shared. With RESULTS_BENCH_DIR=DIR the generated
 * files are kept in DIR and reused by the next run of the same size (delete them after).
 *
 * `report` runs, RESULTS_BENCH_RUNS times (3 by default), DuckDB's group-by floor then `results
 * report` on the Parquet file, and with RESULTS_BENCH_BASELINE=MAIN_JS (another build's
 * `dist/service/main.js`, e.g. main's) that build's report right after, interleaved so both
 * see the same load; it ends with the worst time and peak RSS of each, at DuckDB's default
 * 1 GB limit (INFRAMETER_RESULTS_MEMORY=256MB in the environment sets another for every
 * process of the run). The same series with fewer or more seconds (e.g. 1000 500 36, 1000
 * 500 720) shows whether memory follows the rows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, sqlString } from '../extensions/experiments/results/source.ts';

const MODES = ['cluster', 'report', 'csv-reader', 'csv-profile'] as const;
const mode = MODES.find((m) => m === process.argv[2]) ?? 'files';
const cluster = mode === 'cluster' || mode === 'report';
const reportOnly = mode === 'report';
const args = process.argv.slice(mode === 'files' ? 2 : 3).map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const HOSTS = args[0] ?? (cluster ? 1000 : 100);
const SERIES = args[1] ?? 500;
const SECONDS = args[2] ?? (cluster ? 360 : 200);
const ROWS = HOSTS * SERIES * SECONDS;
const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist', 'service', 'main.js');
// RESULTS_BENCH_DIR keeps the generated files there and reuses them on the next run.
const keep = process.env.RESULTS_BENCH_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'inframeter-results-bench-'));

const load = (): string => `load ${loadavg()[0]?.toFixed(2) ?? '?'}`;
const mib = (path: string): string => `${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`;

interface Timed {
  wall: number;
  /** User + system CPU seconds, all threads. */
  cpu: number;
  rssMb: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time: wall and CPU seconds, peak RSS in MB, stdout. */
function timed(command: string, args: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', command, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || m === null) throw new Error(`${command} failed: ${r.stderr.slice(-800)}`);
  return {
    wall: Number(m[1]),
    cpu: Number(m[2]) + Number(m[3]),
    rssMb: Number(m[4]) / 1024,
    stdout: r.stdout,
  };
}

/**
 * The generated experiment as Parquet, straight from DuckDB: a table of the series (their
 * text columns built once) crossed with the seconds, so that each row costs a little
 * arithmetic and not string building.
 */
async function generate(path: string): Promise<void> {
  const third = SECONDS / 3;
  const modes = `['user', 'system', 'idle', 'iowait', 'nice', 'irq', 'softirq', 'steal']`;
  const db = await openDatabase('4GB');
  try {
    // Per series: value = a + b·s + c·(busy seconds so far), or a sine around a for memory.
    await db.connection.run(`CREATE TEMP TABLE series_text AS SELECT h,
        'node-' || lpad(h::VARCHAR, 4, '0') AS host,
        printf('%016x', h * 7919 + 1) AS collector,
        CASE WHEN k < 256 THEN 'system.cpu.time' WHEN k < 260 THEN 'system.memory.usage' ELSE 'system.network.io' END AS metric,
        CASE WHEN k < 256 THEN 's' ELSE 'By' END AS unit,
        CASE WHEN k BETWEEN 256 AND 259 THEN 'updowncounter' ELSE 'counter' END AS "type",
        CASE
          WHEN k < 256 THEN '{"cpu.logical_number":' || (k // 8) || ',"cpu.mode":"' || (${modes})[k % 8 + 1] || '"}'
          WHEN k < 260 THEN '{"system.memory.state":"' || (['used', 'free', 'cached', 'buffered'])[k - 255] || '"}'
          ELSE '{"network.interface.name":"eth' || ((k - 260) // 2) || '","network.io.direction":"' || (CASE WHEN k % 2 = 0 THEN 'receive' ELSE 'transmit' END) || '"}'
        END AS attributes,
        k BETWEEN 256 AND 259 AS wave,
        CASE WHEN k < 256 THEN [1000, 500, 5000, 10, 10, 10, 10, 10][k % 8 + 1] WHEN k < 260 THEN (k - 255) * 2e9 ELSE 1e6 * (k - 259) END::DOUBLE AS a,
        CASE WHEN k < 256 THEN [0.02, 0.01, 0.97, 0.001, 0.001, 0.001, 0.001, 0.001][k % 8 + 1] WHEN k < 260 THEN 0 ELSE 1e5 + h * 100 END::DOUBLE AS b,
        CASE WHEN k < 256 THEN [1, 0.05, -1.05, 0, 0, 0, 0, 0][k % 8 + 1] * (0.6 + (h % 7) / 20) ELSE 0 END::DOUBLE AS c
      FROM range(${String(HOSTS)}) t1(h), range(${String(SERIES)}) t2(k)`);
    // The text columns as ENUMs: DuckDB's Parquet writer then takes each row group's
    // dictionary as it is instead of hashing every string of every row (7× faster here with
    // row groups of a million rows); the file still holds plain UTF-8 strings.
    const text = ['host', 'collector', 'metric', 'unit', 'type', 'attributes'];
    for (const column of text) {
      await db.connection.run(
        `CREATE TYPE "${column}_enum" AS ENUM (SELECT DISTINCT "${column}" FROM series_text)`,
      );
    }
    const casts = text.map((column) => `"${column}"::"${column}_enum" AS "${column}"`).join(', ');
    await db.connection.run(`CREATE TEMP TABLE series AS SELECT h, ${casts}, wave, a, b, c FROM series_text`);
    await db.connection.run(`COPY (
      SELECT TIMESTAMP '2026-11-22 10:00:00' + to_seconds(s) AS timestamp, host, collector, metric, unit, "type",
        CASE WHEN wave THEN a + 1e8 * sin(s / 30 + h)
          ELSE a + b * s + c * greatest(0, least(s, ${String(2 * third)}) - ${String(third)}) END AS value,
        attributes, '{"service.name":"inframeter"}' AS resource, TIMESTAMP '2026-11-22 09:00:00' AS start_timestamp
      FROM range(${String(SECONDS)}) t3(s), series
    ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1000000)`);
  } finally {
    db.close();
  }
}

function summary(file: string, extra: string[] = []): Timed & { series: number } {
  const r = timed(process.execPath, [MAIN, 'results', 'summary', '--json', ...extra, file]);
  return { ...r, series: (JSON.parse(r.stdout) as unknown[]).length };
}

/**
 * A query of DuckDB's own over `source` (`FILE` stands for the file's SQL table expression),
 * in a Node.js process of its own that loads DuckDB as the CLI does: the floor of a summary.
 */
function duckdbFloor(file: string, query: string): Timed {
  const script = `
    import { kindOf, openDatabase, sourceSql } from ${JSON.stringify(join(ROOT, 'dist', 'extensions', 'experiments', 'results', 'source.js'))};
    const db = await openDatabase();
    const reader = await db.connection.runAndReadAll(${JSON.stringify(query)}.replace('FILE', sourceSql(process.argv[1], kindOf(process.argv[1]))));
    console.log(String(reader.getRowsJS()[0]?.[0]));
    db.close();`;
  return timed(process.execPath, ['--input-type=module', '-e', script, file]);
}

const COUNT = 'SELECT count(*) FROM FILE';
const SUM = 'SELECT sum(value) FROM FILE';
const GROUP =
  'SELECT count(*) FROM (SELECT metric, host, collector, attributes, count(*) AS n FROM FILE GROUP BY ALL)';

/** polars (nodejs-polars) over the Parquet file: scan, group by series, count, mean, min, max. */
function polars(file: string): Timed {
  const script = `
    const pl = require('nodejs-polars');
    const v = pl.col('value');
    const out = pl.scanParquet(process.argv[1]).groupBy(['metric', 'host', 'collector', 'attributes'])
      .agg(v.count().alias('n'), v.mean().alias('mean'), v.min().alias('min'), v.max().alias('max')).collectSync();
    console.log(out.height);`;
  return timed(process.execPath, ['-e', script, file]);
}

/**
 * DuckDB's CSV reader as the summary sets it up and variants of it, in one Node.js process,
 * interleaved ROUNDS times: each reads the columns a summary reads (all but `resource`),
 * and its CPU time is printed (the least of its runs, the one least disturbed by other work).
 */
function readerVariants(file: string): void {
  const script = `
    import { loadavg } from 'node:os';
    import { kindOf, openDatabase, sourceSql } from ${JSON.stringify(join(ROOT, 'dist', 'extensions', 'experiments', 'results', 'source.js'))};
    const [file, rounds, rows] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
    const reader = sourceSql(file, kindOf(file));
    const columns = ['timestamp', 'host', 'collector', 'metric', 'unit', '"type"', 'value', 'attributes', 'start_timestamp'];
    const read = (source) => 'SELECT count(*) FROM ' + source + ' WHERE ' + columns.map((c) => c + ' IS NOT NULL').join(' AND ');
    const option = (text) => reader.replace('columns = ', text + ', columns = ');
    const variants = {
      'COUNT(*) (parses, keeps no column)': 'SELECT count(*) FROM ' + reader,
      "the summary's reader": read(reader),
      'host alone': read(reader).replace(/ WHERE .*/, ' WHERE host IS NOT NULL'),
      'attributes alone (quoted JSON)': read(reader).replace(/ WHERE .*/, ' WHERE attributes IS NOT NULL'),
      'buffer_size 4 MiB': read(option('buffer_size = 4194304')),
      'buffer_size 64 MiB': read(option('buffer_size = 67108864')),
      'parallel = false': read(option('parallel = false')),
      'strict_mode = false': read(reader.replace('strict_mode = true', 'strict_mode = false')),
      'timestamps as VARCHAR': read(reader.replaceAll(": 'TIMESTAMP'", ": 'VARCHAR'")),
      'unit, type as ENUM': read(reader.replace("'unit': 'VARCHAR'", "'unit': 'ENUM(''s'', ''By'')'").replace("'type': 'VARCHAR'", "'type': 'ENUM(''counter'', ''updowncounter'')'")),
      'auto_detect (sniffed)': read("read_csv('" + file.replaceAll("'", "''") + "')"),
    };
    const db = await openDatabase();
    const cpu = {};
    for (let round = 1; round <= rounds; round++)
      for (const [name, sql] of Object.entries(variants)) {
        const start = process.cpuUsage();
        const t = performance.now();
        await db.connection.run(sql);
        const used = process.cpuUsage(start);
        const seconds = (used.user + used.system) / 1e6;
        (cpu[name] ??= []).push(seconds);
        console.log('csv reader, run ' + round + ', ' + name + ': CPU ' + seconds.toFixed(2) + ' s, wall ' + ((performance.now() - t) / 1000).toFixed(2) + ' s (load ' + loadavg()[0].toFixed(2) + ')');
      }
    for (const [name, runs] of Object.entries(cpu)) {
      const best = Math.min(...runs);
      console.log('csv reader, ' + name + ': CPU ' + runs.map((s) => s.toFixed(2)).join(', ') + ' s; least ' + best.toFixed(2) + ' s = ' + (rows / best / 1e6).toFixed(2) + ' M rows per CPU-second');
    }
    db.close();`;
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, file, String(ROUNDS), String(ROWS)],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) throw new Error('the CSV reader variants failed');
}

/**
 * What each sampled function does, by its name in DuckDB's library (DuckDB 1.x's internal
 * names: a version that renames them leaves more under "other"), in the order they are tried.
 */
const PROFILE_KINDS: readonly [string, RegExp][] = [
  [
    "parsing the CSV (the floor's own work)",
    /BaseScanner::Process|AddRowInternal|StringValueResult::AddRow\b|HandleTooManyColumns|FullLinePosition|NullPadding|LineError|CSVFileHandle|CSVBuffer/,
  ],
  ['unquoting ("" in the JSON columns)', /RemoveEscape|AddPossiblyEscapedValue|StringHeap::EmptyString/],
  ['text values (copies, UTF-8 check)', /AddValueToVector|Utf8Proc|memmove/],
  ['timestamps', /Date::|Time::|Timestamp::/],
  ['numbers', /fast_float|TryCast|IsNan/],
  [
    'grouping by the 4 series columns',
    /TemplatedMatch|Hash<|CombineHash|VectorOperations::Hash|FindOrCreate|GroupedAggregateHashTable|RowMatcher|memcmp/,
  ],
  ['aggregates', /Aggregate|ArgMinMax|MinMax|FirstState|Avg|Sum/],
];

/** Runs a command under `perf record -e cpu-clock` and sums its samples by {@link PROFILE_KINDS}, in CPU seconds. */
function profiled(command: string, args: string[]): Map<string, number> {
  const data = join(dir, 'perf.data');
  const hz = 199;
  const record = spawnSync(
    'perf',
    ['record', '-q', '-e', 'cpu-clock', '-F', String(hz), '-o', data, '--', command, ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  if (record.status !== 0) throw new Error(`perf record ${command} failed: ${record.stderr.slice(-800)}`);
  const report = spawnSync(
    'perf',
    ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-n', '-t', '\t'],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  if (report.status !== 0) throw new Error(`perf report failed: ${report.stderr.slice(-800)}`);
  const seconds = new Map<string, number>();
  const add = (kind: string, samples: number): void => {
    seconds.set(kind, (seconds.get(kind) ?? 0) + samples / hz);
  };
  for (const line of report.stdout.split('\n')) {
    const [, samples, dso, symbol] = line.split('\t').map((f) => f.trim());
    if (line.startsWith('#') || samples === undefined || dso === undefined || symbol === undefined) continue;
    const n = Number(samples);
    if (!Number.isFinite(n)) continue;
    add('total', n);
    if (dso === 'node' || dso.startsWith('[JIT')) add('Node.js (start, JavaScript)', n);
    else if (dso.includes('kernel')) add('kernel (reading the file, memory)', n);
    else add(PROFILE_KINDS.find(([, pattern]) => pattern.test(symbol))?.[0] ?? 'other', n);
  }
  rmSync(data, { force: true });
  return seconds;
}

/** `COUNT(*)` and the summary of the CSV, interleaved, each profiled; their CPU by kind side by side. */
function profileBench(csv: string): void {
  if (spawnSync('perf', ['--version']).status !== 0)
    throw new Error('csv-profile needs perf: install the Debian package linux-perf');
  const floorScript = `
    import { kindOf, openDatabase, sourceSql } from ${JSON.stringify(join(ROOT, 'dist', 'extensions', 'experiments', 'results', 'source.js'))};
    const db = await openDatabase();
    await db.connection.run('SELECT count(*) FROM ' + sourceSql(process.argv[1], kindOf(process.argv[1])));
    db.close();`;
  for (let round = 1; round <= ROUNDS; round++) {
    const floor = profiled(process.execPath, ['--input-type=module', '-e', floorScript, csv]);
    const floorLoad = load();
    const ours = profiled(process.execPath, [MAIN, 'results', 'summary', '--json', csv]);
    const kinds = [...new Set([...ours.keys(), ...floor.keys()])]
      .filter((k) => k !== 'total')
      .sort((a, b) => (ours.get(b) ?? 0) - (ours.get(a) ?? 0));
    const total = { ours: ours.get('total') ?? 0, floor: floor.get('total') ?? 0 };
    console.log(
      `profile, CSV, run ${String(round)}: summary CPU ${total.ours.toFixed(2)} s (${load()}), DuckDB COUNT(*) ${total.floor.toFixed(2)} s (${floorLoad}), ${(total.ours / total.floor).toFixed(2)}× its CPU`,
    );
    for (const kind of kinds) {
      const [o, f] = [ours.get(kind) ?? 0, floor.get(kind) ?? 0];
      console.log(
        `  ${kind.padEnd(42)} summary ${o.toFixed(2).padStart(6)} s ${((100 * o) / total.ours).toFixed(1).padStart(5)} %   COUNT(*) ${f.toFixed(2).padStart(6)} s ${((100 * f) / total.floor).toFixed(1).padStart(5)} %`,
      );
    }
  }
}

const rate = (wall: number): string => `${(ROWS / wall / 1e6).toFixed(2)} M rows/s`;
const times = (wall: number, floor: number): string => `${(wall / floor).toFixed(2)}× the floor's time`;
/** CPU time, and the rows per second it allows with every core free for it. */
const cpuOf = (r: Timed): string =>
  `CPU ${r.cpu.toFixed(2)} s = ${(ROWS / r.cpu / 1e6).toFixed(2)} M rows per CPU-second, at most ${((ROWS / r.cpu / 1e6) * availableParallelism()).toFixed(2)} M rows/s on ${String(availableParallelism())} free cores`;
const worst = (runs: Timed[]): Timed => runs.reduce((a, b) => (b.wall > a.wall ? b : a));

/** The 10 M-row comparison: the summary beside its floors, polars and pandas, on each format. */
function filesBench(parquet: string, csv: string): void {
  const pCount = duckdbFloor(parquet, COUNT);
  const pGroup = duckdbFloor(parquet, GROUP);
  console.log(
    `floor, Parquet: DuckDB COUNT(*) ${pCount.wall.toFixed(2)} s (process start and DuckDB load; Parquet keeps the count), group by series ${pGroup.wall.toFixed(2)} s = ${rate(pGroup.wall)} (${load()})`,
  );
  const p = summary(parquet);
  console.log(
    `summary, Parquet: ${String(p.series)} series in ${p.wall.toFixed(2)} s = ${rate(p.wall)} (goal 10), ${times(p.wall, pGroup.wall)}, peak RSS ${p.rssMb.toFixed(0)} MB (${load()})`,
  );
  const p95 = summary(parquet, ['--p95']);
  console.log(
    `summary --p95, Parquet: ${p95.wall.toFixed(2)} s = ${rate(p95.wall)}, ${(p95.wall / p.wall).toFixed(2)}× the summary's time, peak RSS ${p95.rssMb.toFixed(0)} MB (${load()})`,
  );
  const pl = polars(parquet);
  console.log(
    `polars on the same Parquet (scan, group by series, count/mean/min/max): ${pl.stdout.trim()} groups in ${pl.wall.toFixed(2)} s = ${rate(pl.wall)}, ${times(pl.wall, pGroup.wall)}, peak RSS ${pl.rssMb.toFixed(0)} MB (${load()})`,
  );
  // Interleaved, so that the floors and the summary see the same load.
  const runs: { count: Timed; sum: Timed; summary: Timed }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const count = duckdbFloor(csv, COUNT);
    console.log(
      `floor, CSV, run ${String(round)}: DuckDB COUNT(*) ${count.wall.toFixed(2)} s = ${rate(count.wall)}, ${cpuOf(count)} (${load()})`,
    );
    const sum = duckdbFloor(csv, SUM);
    console.log(
      `floor, CSV, run ${String(round)}: DuckDB SUM(value) ${sum.wall.toFixed(2)} s = ${rate(sum.wall)}, ${cpuOf(sum)} (${load()})`,
    );
    const c = summary(csv);
    console.log(
      `summary, CSV, run ${String(round)}: ${c.wall.toFixed(2)} s = ${rate(c.wall)} (goal 3), ${(c.wall / Math.min(count.wall, sum.wall)).toFixed(2)}× the fastest floor's time, ${cpuOf(c)}, peak RSS ${c.rssMb.toFixed(0)} MB (${load()})`,
    );
    runs.push({ count, sum, summary: c });
  }
  const floors = runs.map((r) => (r.count.wall <= r.sum.wall ? r.count : r.sum));
  const floor = worst(floors);
  const c = worst(runs.map((r) => r.summary));
  const cpuFloor = Math.max(...floors.map((r) => r.cpu));
  const cpuSummary = Math.max(...runs.map((r) => r.summary.cpu));
  console.log(
    `CSV, worst of ${String(ROUNDS)}: DuckDB's fastest plain read (COUNT(*) or SUM(value)) ${rate(floor.wall)}, summary ${rate(c.wall)} (goal 3); by CPU time (worst): floor ${(ROWS / cpuFloor / 1e6).toFixed(2)}, summary ${(ROWS / cpuSummary / 1e6).toFixed(2)} M rows per CPU-second, so at most ${((ROWS / cpuFloor / 1e6) * availableParallelism()).toFixed(2)} and ${((ROWS / cpuSummary / 1e6) * availableParallelism()).toFixed(2)} M rows/s on ${String(availableParallelism())} free cores (${load()})`,
  );
  if (spawnSync('/usr/bin/python3', ['-c', 'import pandas']).status === 0) {
    const script = [
      'import sys, pandas as pd',
      // Text columns as text: a collector id of digits alone would otherwise become a number.
      "df = pd.read_csv(sys.argv[1], dtype={'host': str, 'collector': str, 'metric': str, 'attributes': str})",
      "out = df.groupby(['metric', 'host', 'collector', 'attributes'])['value'].agg(['count', 'mean', 'min', 'max'])",
      'print(len(out))',
    ].join('\n');
    const pandas = timed('/usr/bin/python3', ['-c', script, csv]);
    console.log(
      `pandas on the same CSV (read_csv, groupby count/mean/min/max): ${pandas.stdout.trim()} groups in ${pandas.wall.toFixed(2)} s = ${rate(pandas.wall)}, ${times(pandas.wall, floor.wall)}, ${cpuOf(pandas)}, peak RSS ${pandas.rssMb.toFixed(0)} MB (${load()})`,
    );
    console.log(
      `ratio pandas/inframeter time (the summary's worst run on CSV): CSV ${(pandas.wall / c.wall).toFixed(2)}x, Parquet ${(pandas.wall / p.wall).toFixed(2)}x; RSS inframeter/pandas on CSV ${(c.rssMb / pandas.rssMb).toFixed(2)}`,
    );
  } else {
    console.log('pandas comparison skipped: install the Debian package python3-pandas');
  }
}

try {
  const parquet = join(dir, `results-${String(HOSTS)}x${String(SERIES)}x${String(SECONDS)}.parquet`);
  const t = performance.now();
  const reused = existsSync(parquet);
  if (!reused) await generate(parquet);
  console.log(
    `${reused ? 'reused' : 'generated'} ${ROWS.toLocaleString('en-US')} rows: ${String(HOSTS)} hosts × ${String(SERIES)} series × ${String(SECONDS)} s, Parquet ${mib(parquet)} in ${((performance.now() - t) / 1000).toFixed(1)} s (${load()})`,
  );
  if (reportOnly) {
    const baseline = process.env.RESULTS_BENCH_BASELINE;
    const runs = Number(process.env.RESULTS_BENCH_RUNS ?? 3);
    const html = join(dir, 'report.html');
    const worst = new Map<string, { wall: number; rssMb: number }>();
    const note = (name: string, r: { wall: number; rssMb: number }): string => {
      const w = worst.get(name);
      worst.set(name, { wall: Math.max(w?.wall ?? 0, r.wall), rssMb: Math.max(w?.rssMb ?? 0, r.rssMb) });
      return `${r.wall.toFixed(1)} s, peak RSS ${r.rssMb.toFixed(0)} MB (${load()})`;
    };
    for (let run = 1; run <= runs; run++) {
      const floor = duckdbFloor(parquet, GROUP);
      console.log(`run ${String(run)}: floor (DuckDB group by series) ${note('floor', floor)}`);
      const ours = timed(process.execPath, [MAIN, 'results', 'report', parquet, '--out', html]);
      console.log(
        `run ${String(run)}: report, this build: ${ours.stdout.trim()} in ${note('this build', ours)}`,
      );
      if (baseline !== undefined) {
        const base = timed(process.execPath, [baseline, 'results', 'report', parquet, '--out', html]);
        console.log(
          `run ${String(run)}: report, baseline: ${note('baseline', base)}; this build ${(ours.wall / base.wall).toFixed(2)}× its time, ${(ours.rssMb / base.rssMb).toFixed(2)}× its RSS`,
        );
      }
    }
    const floor = worst.get('floor') ?? { wall: 1, rssMb: 0 };
    for (const [name, w] of worst) {
      if (name === 'floor') continue;
      console.log(
        `worst of ${String(runs)}, ${ROWS.toLocaleString('en-US')} rows, report (${name}): ${w.wall.toFixed(1)} s (${times(w.wall, floor.wall)}, worst floor ${floor.wall.toFixed(1)} s), peak RSS ${w.rssMb.toFixed(0)} MB`,
      );
    }
  } else if (cluster) {
    const floor = duckdbFloor(parquet, GROUP);
    console.log(
      `floor, Parquet: DuckDB group by series ${floor.wall.toFixed(1)} s = ${rate(floor.wall)}, peak RSS ${floor.rssMb.toFixed(0)} MB (${load()})`,
    );
    const s = summary(parquet);
    console.log(
      `cluster summary (Parquet): ${s.series.toLocaleString('en-US')} series in ${s.wall.toFixed(1)} s = ${rate(s.wall)}, ${times(s.wall, floor.wall)}, peak RSS ${s.rssMb.toFixed(0)} MB (${load()})`,
    );
    const html = join(dir, 'report.html');
    const report = timed(process.execPath, [MAIN, 'results', 'report', parquet, '--out', html]);
    console.log(
      `cluster report (Parquet): ${report.stdout.trim()} in ${report.wall.toFixed(1)} s, ${mib(html)}, peak RSS ${report.rssMb.toFixed(0)} MB (${load()})`,
    );
    console.log(
      `end to end, summary + report: ${(s.wall + report.wall).toFixed(1)} s for ${ROWS.toLocaleString('en-US')} rows; scaled linearly to the full hour (${(HOSTS * SERIES * 3600).toLocaleString('en-US')} rows) at most ${(((s.wall + report.wall) * 3600) / SECONDS / 60).toFixed(1)} min (part of the time is per series, not per row)`,
    );
  } else {
    const csv = join(dir, `results-${String(HOSTS)}x${String(SERIES)}x${String(SECONDS)}.csv`);
    if (existsSync(csv)) console.log(`CSV ${mib(csv)} reused (${load()})`);
    else {
      const converted = timed(process.execPath, [MAIN, 'results', 'convert', parquet, csv]);
      console.log(`CSV ${mib(csv)} written by results convert in ${converted.wall.toFixed(1)} s (${load()})`);
    }
    if (mode === 'csv-reader') readerVariants(csv);
    else if (mode === 'csv-profile') profileBench(csv);
    else filesBench(parquet, csv);
  }
} finally {
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
