/**
 * procfs receiver beside prometheus-node-exporter on the same host, in the same run.
 *
 *   node bench/procfs.bench.ts [scrapes]      (default 1000)
 *
 * inframeter: the built collector (`npm run build`) running procfs every 10 ms into its
 * Prometheus exporter: CPU of one procfs scrape plus one fetch of its /metrics (a
 * node_exporter fetch both collects and renders, so both sides pay for both).
 * node_exporter: started on loopback and scraped `scrapes` times over HTTP; its CPU time and
 * RSS are read from /proc/PID.
 * Prints CPU per scrape and per series, wall time per scrape, RSS (and its growth over the
 * run) for both, and the ratios; then where the CPU of one scrape plus one fetch goes, part by
 * part, measured inside this process. Needs the Debian package prometheus-node-exporter.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, gzipSync } from 'node:zlib';
import { configSchema } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { createProcfsClient } from '../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../receivers/procfs/config.ts';
import { ProcfsScraper } from '../receivers/procfs/scraper.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { freePort } from '../test/support/peers.ts';
import { createTestSettings } from '../test/support/settings.ts';

const SCRAPES = Number(process.argv[2] ?? 1000);
const TICKS_PER_SECOND = 100;
const MAIN = join(import.meta.dirname, '..', 'dist', 'service', 'main.js');
if (!existsSync(MAIN)) {
  console.error('run `npm run build` first: the benchmark measures the built collector');
  process.exit(1);
}

interface Figures {
  series: number;
  cpuPerScrapeMs: number;
  cpuPerSeriesUs: number;
  wallPerScrapeMs: number;
  rssFirstMb: number;
  rssLastMb: number;
  /** /metrics fetches per procfs scrape (1 for node_exporter, where a fetch is a scrape). */
  fetchesPerScrape: number;
  /** Ours: CPU ms of a procfs scrape into the exporter, and of one /metrics fetch. */
  collectMs?: number;
  fetchMs?: number;
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** Sums the `_count` samples of a histogram for one component in a text exposition. */
function histogramCount(text: string, name: string, component: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}_count{`) && line.includes(`component_id="${component}"`)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      if (i > 100) throw new Error(`${url} did not answer within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The built collector (`npm run build`) with procfs every 10 ms into the Prometheus
 * exporter. node_exporter collects and renders on every fetch, so our unit of work is one
 * procfs scrape plus one fetch of /metrics, measured in two windows of `scrapes` procfs
 * scrapes each: A with nobody fetching gives the CPU of a scrape (into the exporter's store);
 * B with /metrics fetched about once per scrape (paced at the collector's own scrape period,
 * measured over a warm-up second) gives, beyond its scrapes, the CPU of a fetch. CPU counts
 * every cycle of the process (its timers, its self-telemetry). The scrape count comes from
 * self-telemetry, read every 500 ms in A and every 100 fetches in B (their renderings are
 * charged to us too). RSS is sampled over window B, after `scrapes` scrapes already ran.
 */
async function ours(env: NodeJS.ProcessEnv = {}): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-bench-'));
  const [port, telemetryPort] = [await freePort(), await freePort()];
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  procfs:',
      '    collection_interval: 10ms',
      'exporters:',
      '  prometheus:',
      `    endpoint: 127.0.0.1:${String(port)}`,
      'service:',
      '  telemetry:',
      '    logs: { level: warn }',
      `    metrics: { address: 127.0.0.1:${String(telemetryPort)} }`,
      '  pipelines:',
      '    metrics: { receivers: [procfs], exporters: [prometheus] }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [MAIN, 'run', '--config', config], {
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the collector did not start');
  const url = `http://127.0.0.1:${String(port)}/metrics`;
  const telemetry = `http://127.0.0.1:${String(telemetryPort)}/metrics`;
  const scrapesSoFar = async (): Promise<number> =>
    histogramCount(await (await fetch(telemetry)).text(), 'inframeter_scrape_duration_seconds', 'procfs');
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    await waitFor(url);
    await sleep(1000);
    // The collector's real scrape period (10 ms plus timer lateness), to pace the fetches.
    const warm0 = await scrapesSoFar();
    const warmStart = performance.now();
    await sleep(1000);
    const periodMs = (performance.now() - warmStart) / Math.max(1, (await scrapesSoFar()) - warm0);
    // Window A: procfs scrapes into the exporter, nobody fetching: CPU per scrape alone.
    const cpuA0 = cpuMs(pid);
    const scrapesA0 = await scrapesSoFar();
    let scrapesA = 0;
    while (scrapesA < SCRAPES) {
      await sleep(500);
      scrapesA = (await scrapesSoFar()) - scrapesA0;
    }
    const collectMs = (cpuMs(pid) - cpuA0) / scrapesA;
    // Window B: the same with /metrics fetched about once per scrape.
    const cpu0 = cpuMs(pid);
    const scrapes0 = await scrapesSoFar();
    const rss: number[] = [];
    let series = 0;
    let scrapes = 0;
    let fetches = 0;
    const start = performance.now();
    while (scrapes < SCRAPES) {
      const text = await (await fetch(url)).text();
      fetches += 1;
      series = text
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('target_info')).length;
      if (fetches % 100 === 0) {
        scrapes = (await scrapesSoFar()) - scrapes0;
        if (rss.length < Math.floor((scrapes * 10) / SCRAPES)) rss.push(rssMb(pid));
      }
      await sleep(Math.max(0, start + fetches * periodMs - performance.now()));
    }
    const cpu = cpuMs(pid) - cpu0;
    scrapes = (await scrapesSoFar()) - scrapes0;
    const wallMs = histogramSum(await (await fetch(telemetry)).text(), 'procfs');
    // What window B cost beyond its scrapes is the fetches; one scrape plus one fetch is what
    // a node_exporter scrape does, whatever the pacing achieved on a busy machine.
    const fetchMs = (cpu - collectMs * scrapes) / fetches;
    const perScrape = collectMs + fetchMs;
    return {
      series,
      cpuPerScrapeMs: perScrape,
      cpuPerSeriesUs: (perScrape * 1000) / series,
      collectMs,
      fetchMs,
      wallPerScrapeMs: wallMs / (scrapes + scrapes0),
      rssFirstMb: rss[0] ?? 0,
      rssLastMb: rssMb(pid),
      fetchesPerScrape: fetches / scrapes,
    };
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Total scrape wall time in ms (the histogram's `_sum`) for one component. */
function histogramSum(text: string, component: string): number {
  for (const line of text.split('\n')) {
    if (
      line.startsWith('inframeter_scrape_duration_seconds_sum{') &&
      line.includes(`component_id="${component}"`)
    ) {
      return Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    }
  }
  return Number.NaN;
}

async function nodeExporter(): Promise<Figures> {
  const port = await freePort();
  const child = spawn(
    'prometheus-node-exporter',
    [`--web.listen-address=127.0.0.1:${String(port)}`, '--no-collector.systemd'],
    { stdio: 'ignore' },
  );
  const pid = child.pid;
  if (pid === undefined)
    throw new Error('prometheus-node-exporter did not start: install the Debian package');
  const url = `http://127.0.0.1:${String(port)}/metrics`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(url)).ok) break;
      } catch {
        if (i > 100) throw new Error('prometheus-node-exporter did not answer within 10 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cpu0 = cpuMs(pid);
    const wall0 = process.hrtime.bigint();
    let series = 0;
    const rss: number[] = [];
    for (let i = 1; i <= SCRAPES; i++) {
      const text = await (await fetch(url)).text();
      series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      if (i % (SCRAPES / 10) === 0) rss.push(rssMb(pid));
    }
    const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
    const cpu = cpuMs(pid) - cpu0;
    return {
      series,
      cpuPerScrapeMs: cpu / SCRAPES,
      cpuPerSeriesUs: (cpu * 1000) / SCRAPES / series,
      wallPerScrapeMs: wallMs / SCRAPES,
      rssFirstMb: rss[0] ?? 0,
      rssLastMb: rss.at(-1) ?? 0,
      fetchesPerScrape: 1,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * Where the CPU of one scrape plus one fetch goes, measured inside this process on the same
 * code (the sources, run by Node.js with their types stripped): reading and parsing /proc, the OpenTelemetry SDK's collection of
 * the observable instruments (our batch callback and the runner's bookkeeping included), the
 * exporter's store, the exposition text and its gzip. Process CPU time around each step,
 * after 300 warm-up rounds; HTTP and the collector's timers are not in it.
 */
async function breakdown(rounds: number): Promise<{ series: number; parts: [string, number][] }> {
  const scraper = new ProcfsScraper(createProcfsClient('/'), procfsConfigSchema.parse({}));
  const runner = new ScrapeRunner(scraper, createTestSettings('procfs', 'receiver'));
  const exporter = new PrometheusExporter(
    createTestSettings('prometheus', 'exporter'),
    configSchema.parse({ endpoint: '127.0.0.1:0' }),
  );
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const totals = { read: 0, run: 0, store: 0, render: 0, gzip: 0 };
  let series = 0;
  for (let i = 0; i < rounds + 300; i += 1) {
    if (i === 300) for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] = 0;
    let t = cpu();
    await scraper.scrape();
    let u = cpu();
    totals.read += u - t;
    const { batch } = await runner.run(1000);
    t = cpu();
    totals.run += t - u;
    exporter.export(batch, () => undefined);
    u = cpu();
    totals.store += u - t;
    const text = exporter.render('text');
    t = cpu();
    totals.render += t - u;
    gzipSync(text, { level: constants.Z_BEST_SPEED });
    u = cpu();
    totals.gzip += u - t;
    series = countPoints(batch);
  }
  await runner.shutdown();
  const us = (total: number): number => total / rounds;
  return {
    series,
    parts: [
      ['read and parse /proc', us(totals.read)],
      // run() reads /proc again, then collects: its cost beyond the read is the collection.
      ['OpenTelemetry SDK collection', us(totals.run) - us(totals.read)],
      ['exporter store', us(totals.store)],
      ['exposition text', us(totals.render)],
      ['gzip (level 1)', us(totals.gzip)],
    ],
  };
}

// node_exporter before and after ours, averaged: the machine's load drifts during a run.
const before = await nodeExporter();
// As users run it: the entry point sets its V8 heap flags (service/heap-flags.ts).
const mine = await ours();
// With V8's default heap sizing, for comparison.
const defaults = await ours({ INFRAMETER_HEAP_FLAGS: 'off' });
const after = await nodeExporter();
const mean = (a: number, b: number): number => (a + b) / 2;
const theirs: Figures = {
  series: after.series,
  cpuPerScrapeMs: mean(before.cpuPerScrapeMs, after.cpuPerScrapeMs),
  cpuPerSeriesUs: mean(before.cpuPerSeriesUs, after.cpuPerSeriesUs),
  wallPerScrapeMs: mean(before.wallPerScrapeMs, after.wallPerScrapeMs),
  rssFirstMb: before.rssFirstMb,
  rssLastMb: after.rssLastMb,
  fetchesPerScrape: 1,
};
const row = (name: string, f: Figures): string =>
  [
    name.padEnd(24),
    String(f.series).padStart(7),
    f.cpuPerScrapeMs.toFixed(3).padStart(10),
    f.cpuPerSeriesUs.toFixed(2).padStart(10),
    f.wallPerScrapeMs.toFixed(3).padStart(10),
    `${f.rssFirstMb.toFixed(1)} → ${f.rssLastMb.toFixed(1)}`.padStart(16),
    f.fetchesPerScrape.toFixed(2).padStart(9),
    (f.collectMs === undefined ? '-' : f.collectMs.toFixed(3)).padStart(10),
    (f.fetchMs === undefined ? '-' : f.fetchMs.toFixed(3)).padStart(10),
  ].join(' ');
console.log(`procfs: ${String(SCRAPES)} scrapes each, same host, same run`);
console.log(
  [
    'collector'.padEnd(24),
    'series',
    'CPU ms/scr',
    'CPU µs/ser',
    'wall ms/scr',
    'RSS MB (10%→end)',
    'fetch/scr',
  ].join(' '),
);
console.log(row('inframeter procfs', mine));
console.log(row('  V8 default heap', defaults));
console.log(row('prometheus-node-exporter', theirs));
console.log(row('  (before ours)', before));
console.log(row('  (after ours)', after));
console.log(
  `ratio inframeter/node_exporter: CPU per series ${(mine.cpuPerSeriesUs / theirs.cpuPerSeriesUs).toFixed(2)}, ` +
    `CPU per scrape ${(mine.cpuPerScrapeMs / theirs.cpuPerScrapeMs).toFixed(2)}, ` +
    `RSS ${(mine.rssLastMb / theirs.rssLastMb).toFixed(2)}; ` +
    `inframeter RSS growth over the run ${(mine.rssLastMb - mine.rssFirstMb).toFixed(1)} MB`,
);

const inside = await breakdown(3000);
const total = inside.parts.reduce((sum, [, us]) => sum + us, 0);
console.log(
  `inside one scrape + one fetch, in this process (${String(inside.series)} series; CPU µs, share, µs per series):`,
);
for (const [part, us] of inside.parts) {
  console.log(
    `  ${part.padEnd(30)} ${us.toFixed(0).padStart(6)}  ${((us / total) * 100).toFixed(0).padStart(3)} %  ` +
      (us / inside.series).toFixed(2).padStart(6),
  );
}
console.log(
  `  sum ${total.toFixed(0)} µs (${(total / inside.series).toFixed(2)} µs/series); the collector above: ` +
    `${(mine.cpuPerScrapeMs * 1000).toFixed(0)} µs, the rest being HTTP, timers, self-telemetry and ` +
    `garbage collection; node_exporter: ${theirs.cpuPerSeriesUs.toFixed(2)} µs/series in all`,
);
