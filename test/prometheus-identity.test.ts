import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema as exporterConfig } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { configSchema as receiverConfig } from '../receivers/prometheus/config.ts';
import { PrometheusReceiver } from '../receivers/prometheus/receiver.ts';
import type { Family, Sample } from '../receivers/prometheus/parse/exposition.ts';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import { missing } from './support/peers.ts';
import type { RealExporter } from './support/real-exporters.ts';
import { availableRecipes, startRealExporters } from './support/real-exporters.ts';
import { createTestSettings } from './support/settings.ts';

// A real exposition → prometheus receiver → prometheus exporter gives back the same families,
// names, types, help, labels, values and (in OpenMetrics) exemplars, plus the target's job and instance labels and the
// otel_scope_name and otel_scope_version labels the exporter adds. The exposition is fetched once from the real
// exporter and replayed to the receiver, so values are compared exactly.
const recipes = availableRecipes(['node_exporter', 'prometheus', 'client_golang']);
const noPromtool = missing('promtool', 'prometheus');

const ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5';
/** What Prometheus and the receiver add to every series. */
const ADDED = ['job', 'instance', 'otel_scope_name', 'otel_scope_version'];
/** The receiver's own families about the scrape. */
const OWN = new Set(['target', 'target_info', 'up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** A sample's exemplar as comparable text: ` # {labels} value timestamp`; '' when it has none. */
function describeExemplar(sample: Sample): string {
  const e = sample.exemplar;
  if (e === undefined) return '';
  const labels = Object.entries(e.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return ` # {${labels}} ${String(e.value)} ${String(e.timestamp)}`;
}

/**
 * The families as comparable lines, `# name type help` then its samples, in name order (order
 * means nothing to Prometheus); labels with an empty value are left out, as Prometheus treats
 * them as absent (the exporter does not write them). With `exemplars`, each sample's exemplar
 * follows it.
 */
function describeFamilies(families: Family[], drop: readonly string[], exemplars = false): string[] {
  const blocks: string[][] = [];
  for (const f of families) {
    const lines: string[] = [];
    blocks.push(lines);
    if (OWN.has(f.name)) continue;
    // The text format has no unknown, and types without samples of their own name carry `_total`.
    const type = f.type === 'untyped' || f.type === 'unknown' ? 'gauge' : f.type;
    const name =
      f.type === 'counter' && !f.name.endsWith('_total') && f.samples[0]?.name.endsWith('_total')
        ? `${f.name}_total`
        : f.name;
    lines.push(`# ${name} ${type} ${JSON.stringify(f.help)}`);
    const samples = f.samples
      .filter((s) => !s.name.endsWith('_created'))
      .map((s) => {
        const labels = Object.entries(s.labels)
          .filter(([k, v]) => !drop.includes(k) && v !== '')
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',');
        const value = Object.is(s.value, -0) ? '0' : String(s.value);
        return `${s.name}{${labels}} ${value}${exemplars ? describeExemplar(s) : ''}`;
      })
      .sort();
    lines.push(...samples);
  }
  return blocks.sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1)).flat();
}

/** promtool's complaints about an exposition, one per line, without the ones about `names`. */
function promtoolProblems(dir: string, text: string): string[] {
  const file = join(dir, `exposition-${String(Math.random()).slice(2)}.txt`);
  writeFileSync(file, text);
  const run = spawnSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}

describe.skipIf(recipes.length === 0)('identity: real exposition → receiver → exporter', () => {
  let exporters: RealExporter[] = [];
  let stop: () => Promise<void> = () => Promise.resolve();
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-identity-'));
    ({ exporters, stop } = await startRealExporters(recipes));
  }, 120_000);

  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const recipe of recipes) {
    it(`${recipe.name}: same families, names, types, labels, values and exemplars; promtool finds nothing new`, async () => {
      const url = exporters.find((e) => e.name === recipe.name)?.urls[0] ?? '';
      const response = await fetch(url, { headers: { accept: ACCEPT } });
      const body = await response.text();
      const contentType = response.headers.get('content-type') ?? 'text/plain; version=0.0.4';
      const source = parseExposition(body, url, contentType.includes('openmetrics'));

      // Replay the recorded body to the receiver.
      const replay: Server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      });
      await new Promise<void>((resolve) => replay.listen(0, '127.0.0.1', resolve));
      const replayUrl = `http://127.0.0.1:${String((replay.address() as { port: number }).port)}/metrics`;
      const receiver = new PrometheusReceiver(
        createTestSettings('prometheus', 'receiver'),
        receiverConfig.parse({ targets: [replayUrl], job: 'node' }),
      );
      const [batch] = await receiver.scrapeAll();
      replay.close();
      const exporter = new PrometheusExporter(
        createTestSettings('prometheus', 'exporter'),
        exporterConfig.parse({ endpoint: '127.0.0.1:0' }),
      );
      if (batch !== undefined) exporter.export(batch, () => undefined);
      const text = exporter.render('text');
      const output = parseExposition(text, 'output');

      // Every series carries the target's job and instance, as Prometheus attaches them.
      const instance = new URL(replayUrl).host;
      for (const f of output)
        if (f.name !== 'target_info')
          for (const s of f.samples) expect(s.labels, s.name).toMatchObject({ job: 'node', instance });
      expect(describeFamilies(output, ADDED)).toEqual(describeFamilies(source, []));
      // The same in OpenMetrics, read back strictly, with the same exemplars on the same samples.
      const openMetrics = parseExposition(exporter.render('openmetrics'), 'output.om', true);
      expect(describeFamilies(openMetrics, ADDED, true)).toEqual(describeFamilies(source, [], true));
      if (recipe.name === 'client_golang') {
        // The Go client library's exemplars (a counter's and histogram buckets'), all kept.
        const withExemplar = (families: Family[]) =>
          families.flatMap((f) => f.samples).filter((s) => s.exemplar !== undefined).length;
        expect(withExemplar(source)).toBeGreaterThanOrEqual(3);
        expect(withExemplar(openMetrics)).toBe(withExemplar(source));
      }

      if (!noPromtool && !contentType.includes('openmetrics')) {
        // What promtool says of ours, it says of the original: nothing is added.
        expect(promtoolProblems(dir, text)).toEqual(promtoolProblems(dir, body));
      }
      await exporter.shutdown();
    }, 60_000);
  }
});
