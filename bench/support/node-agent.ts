import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEAP_FLAGS_APPLIED } from '../../service/heap-flags.ts';
import { freePort } from '../../test/support/peers.ts';

/**
 * The built collector and prometheus-node-exporter side by side, as the procfs and agent
 * benchmarks run them: each started on loopback, scraped over HTTP, its CPU time and RSS read
 * from /proc/PID.
 */

const TICKS_PER_SECOND = 100;

/** The peers and collectors started here, stopped if the benchmark is interrupted. */
const children = new Set<ChildProcess>();

/** Notes a child process, to stop it if the benchmark is interrupted; returns it. */
export function stopOnInterrupt(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(130);
  });
}

/**
 * The environment of a collector started by a benchmark: this process's, without what a
 * benchmark re-executed with the collector's heap flags carries (bench/support/heap-flags.ts),
 * so that the collector applies its own heap flags as `inframeter run` does; `extra` on top.
 */
export function collectorEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, INFRAMETER_HEAP_FLAGS: undefined, [HEAP_FLAGS_APPLIED]: undefined, ...extra };
}

/** The built collector's entry point (`npm run build`). */
export const BUILT_MAIN = join(import.meta.dirname, '..', '..', 'dist', 'service', 'main.js');

/** Exits with a message when the collector is not built: the benchmarks measure the build. */
export function requireBuild(): void {
  if (!existsSync(BUILT_MAIN)) {
    console.error('run `npm run build` first: the benchmark measures the built collector');
    process.exit(1);
  }
}

/** The 1-minute load average, as printed beside each figure. */
export function load1(): number {
  return loadavg()[0] ?? Number.NaN;
}

/** utime + stime of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Resident set size of a process, in MiB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `url` answers 200 (30 s at most). */
export async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within 30 s`);
    }
    await sleep(100);
  }
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

/** The samples of an exposition: its lines that are neither empty nor comments. */
export function countSamples(text: string, skipPrefix?: string): number {
  let samples = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (skipPrefix !== undefined && line.startsWith(skipPrefix)) continue;
    samples += 1;
  }
  return samples;
}

/** What one side of a pair measured. */
export interface Figures {
  /** Samples in one exposition (ours: without `target_info`). */
  series: number;
  cpuPerScrapeMs: number;
  cpuPerSeriesUs: number;
  wallPerScrapeMs: number;
  rssFirstMb: number;
  /** RSS at the end of the run. */
  rssLastMb: number;
  /** /metrics fetches per procfs scrape (1 for node_exporter, where a fetch is a scrape). */
  fetchesPerScrape: number;
  /** Ours: CPU ms of a procfs scrape into the exporter, and of one /metrics fetch. */
  collectMs?: number;
  fetchMs?: number;
  /** The 1-minute load average at the end of the run. */
  load: number;
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
 * `nodeArgs` go to Node.js before the entry point (bench/agent-profile.ts: `--cpu-prof`).
 */
export async function measureOurs(
  scrapes: number,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Promise<Figures> {
  const [figures] = await measureOursRounds(scrapes, 1, env, nodeArgs);
  if (figures === undefined) throw new Error('no round was measured');
  return figures;
}

/**
 * {@link measureOurs} for `rounds` rounds of windows A and B in one collector, one after the
 * other: round 1 is measured from the collector's start (two seconds after it answers), round 2
 * after round 1's `scrapes` scrapes and `scrapes` fetches, and so on; as
 * {@link measureNodeExporterRounds} measures node_exporter after as many fetches.
 */
export async function measureOursRounds(
  scrapes: number,
  rounds: number,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Promise<Figures[]> {
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
  const child = stopOnInterrupt(
    spawn(process.execPath, [...nodeArgs, BUILT_MAIN, 'run', '--config', config], {
      stdio: 'ignore',
      env: collectorEnv(env),
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('the collector did not start');
  const url = `http://127.0.0.1:${String(port)}/metrics`;
  const telemetry = `http://127.0.0.1:${String(telemetryPort)}/metrics`;
  const scrapesSoFar = async (): Promise<number> =>
    histogramCount(await (await fetch(telemetry)).text(), 'inframeter_scrape_duration_seconds', 'procfs');
  try {
    await waitFor(url);
    await sleep(1000);
    // The collector's real scrape period (10 ms plus timer lateness), to pace the fetches.
    const warm0 = await scrapesSoFar();
    const warmStart = performance.now();
    await sleep(1000);
    const periodMs = (performance.now() - warmStart) / Math.max(1, (await scrapesSoFar()) - warm0);
    const out: Figures[] = [];
    for (let round = 0; round < rounds; round++) {
      // Window A: procfs scrapes into the exporter, nobody fetching: CPU per scrape alone.
      const cpuA0 = cpuMs(pid);
      const scrapesA0 = await scrapesSoFar();
      let scrapesA = 0;
      while (scrapesA < scrapes) {
        await sleep(500);
        scrapesA = (await scrapesSoFar()) - scrapesA0;
      }
      const collectMs = (cpuMs(pid) - cpuA0) / scrapesA;
      // Window B: the same with /metrics fetched about once per scrape.
      const cpu0 = cpuMs(pid);
      const scrapes0 = await scrapesSoFar();
      const rss: number[] = [];
      let series = 0;
      let scrapesB = 0;
      let fetches = 0;
      const checkEvery = Math.min(100, Math.max(10, Math.floor(scrapes / 10)));
      const start = performance.now();
      while (scrapesB < scrapes) {
        const text = await (await fetch(url)).text();
        fetches += 1;
        series = countSamples(text, 'target_info');
        if (fetches % checkEvery === 0) {
          scrapesB = (await scrapesSoFar()) - scrapes0;
          if (rss.length < Math.floor((scrapesB * 10) / scrapes)) rss.push(rssMb(pid));
        }
        await sleep(Math.max(0, start + fetches * periodMs - performance.now()));
      }
      const cpu = cpuMs(pid) - cpu0;
      scrapesB = (await scrapesSoFar()) - scrapes0;
      const wallMs = histogramSum(await (await fetch(telemetry)).text(), 'procfs');
      // What window B cost beyond its scrapes is the fetches; one scrape plus one fetch is what
      // a node_exporter scrape does, whatever the pacing achieved on a busy machine.
      const fetchMs = (cpu - collectMs * scrapesB) / fetches;
      const perScrape = collectMs + fetchMs;
      out.push({
        series,
        cpuPerScrapeMs: perScrape,
        cpuPerSeriesUs: (perScrape * 1000) / series,
        collectMs,
        fetchMs,
        wallPerScrapeMs: wallMs / (scrapesB + scrapes0),
        rssFirstMb: rss[0] ?? 0,
        rssLastMb: rssMb(pid),
        fetchesPerScrape: fetches / scrapesB,
        load: load1(),
      });
    }
    return out;
  } finally {
    // Waits for the exit, so that what the collector writes then (a CPU profile) is complete.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** prometheus-node-exporter (Debian) on a free loopback port; stopped by `stop()`. */
export async function startNodeExporter(): Promise<{ pid: number; url: string; stop: () => void }> {
  const port = await freePort();
  const child = stopOnInterrupt(
    spawn(
      'prometheus-node-exporter',
      [`--web.listen-address=127.0.0.1:${String(port)}`, '--no-collector.systemd'],
      {
        stdio: 'ignore',
      },
    ),
  );
  const pid = child.pid;
  if (pid === undefined)
    throw new Error('prometheus-node-exporter did not start: install the Debian package');
  const url = `http://127.0.0.1:${String(port)}/metrics`;
  const stop = (): void => {
    child.kill('SIGTERM');
  };
  try {
    await waitFor(url);
  } catch (error) {
    stop();
    throw error;
  }
  return { pid, url, stop };
}

/** prometheus-node-exporter scraped `scrapes` times back to back. */
export async function measureNodeExporter(scrapes: number): Promise<Figures> {
  const [figures] = await measureNodeExporterRounds(scrapes, 1);
  if (figures === undefined) throw new Error('no round was measured');
  return figures;
}

/**
 * {@link measureNodeExporter} for `rounds` rounds of `scrapes` fetches in one node_exporter, one
 * after the other: round 2 is measured after round 1's `scrapes` fetches, and so on.
 */
export async function measureNodeExporterRounds(scrapes: number, rounds: number): Promise<Figures[]> {
  const { pid, url, stop } = await startNodeExporter();
  const out: Figures[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const cpu0 = cpuMs(pid);
      const wall0 = process.hrtime.bigint();
      let series = 0;
      const rss: number[] = [];
      for (let i = 1; i <= scrapes; i++) {
        const text = await (await fetch(url)).text();
        series = countSamples(text);
        if (i % Math.max(1, Math.floor(scrapes / 10)) === 0) rss.push(rssMb(pid));
      }
      const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
      const cpu = cpuMs(pid) - cpu0;
      out.push({
        series,
        cpuPerScrapeMs: cpu / scrapes,
        cpuPerSeriesUs: (cpu * 1000) / scrapes / series,
        wallPerScrapeMs: wallMs / scrapes,
        rssFirstMb: rss[0] ?? 0,
        rssLastMb: rssMb(pid),
        fetchesPerScrape: 1,
        load: load1(),
      });
    }
    return out;
  } finally {
    stop();
  }
}
