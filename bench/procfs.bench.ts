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
import { constants, gzipSync } from 'node:zlib';
import { configSchema } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { createProcfsClient } from '../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../receivers/procfs/config.ts';
import { ProcfsScraper } from '../receivers/procfs/scraper.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { createTestSettings } from '../test/support/settings.ts';
import type { Figures } from './support/node-agent.ts';
import { measureNodeExporter, measureOurs, requireBuild } from './support/node-agent.ts';

const SCRAPES = Number(process.argv[2] ?? 1000);
requireBuild();
const ours = (env: NodeJS.ProcessEnv = {}): Promise<Figures> => measureOurs(SCRAPES, env);
const nodeExporter = (): Promise<Figures> => measureNodeExporter(SCRAPES);

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
  load: after.load,
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
