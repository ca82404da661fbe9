import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, parseSamples, poll } from './support/peers.ts';

// The Grafana dashboard's queries name only metrics and labels that the Prometheus exporter
// really serves: checked against a live scrape of a collector running the receivers the
// dashboard shows (procfs, cgroups, process, a wattmetre fed by the frame generator, and libvirt on
// its test driver).
const ROOT = join(import.meta.dirname, '..');
const DASHBOARD = join(ROOT, 'examples', 'grafana', 'inframeter-dashboard.json');
const GENERATOR = join(ROOT, 'receivers', 'wattmetre', 'testdata', 'generator.ts');
const PROMQL_WORDS = new Set([
  'sum',
  'by',
  'rate',
  'topk',
  'without',
  'avg',
  'max',
  'min',
  'count',
  'label_values',
  'on',
  'ignoring',
  'group_left',
]);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-grafana-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

/** Metric names and the label names used with them (in selectors and `by (…)`) of one expression. */
function namesOf(expr: string): { metrics: string[]; labels: string[] } {
  const stripped = expr.replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '""');
  const labels = [
    ...stripped.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)/g),
    ...[...stripped.matchAll(/by\s*\(([^)]*)\)/g)].flatMap((m) =>
      (m[1] ?? '').split(',').map((l) => [l, l.trim()]),
    ),
  ].map((m) => (m[1] ?? '').trim());
  const metrics = [
    ...stripped
      .replace(/by\s*\([^)]*\)/g, '')
      .replace(/\{[^}]*\}/g, '')
      .matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g),
  ]
    .map((m) => m[0])
    .filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
  return { metrics, labels: labels.filter((l) => l !== '') };
}

describe('Grafana dashboard', () => {
  it('queries only metrics and labels the Prometheus exporter serves', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(13);
    const port = await freePort();
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'receivers:',
        '  procfs: { collection_interval: 500ms }',
        '  cgroups: { collection_interval: 500ms }',
        '  process: { collection_interval: 500ms }',
        '  wattmetre:',
        `    source: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(GENERATOR)}, "500", "50", "1795000000", "1", "4"] }`,
        '    wattmetre_id: wattmetre1',
        '    flush_interval: 200ms',
        '  libvirt: { uris: ["test:///default"], collection_interval: 500ms }',
        'exporters:',
        `  prometheus: { endpoint: 127.0.0.1:${String(port)} }`,
        'service:',
        '  pipelines:',
        '    metrics: { receivers: [procfs, cgroups, process, wattmetre, libvirt], exporters: [prometheus] }',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      [join(ROOT, 'service', 'main.ts'), 'run', '--config', join(dir, 'config.yaml')],
      // In a pod the chart sets K8S_NODE_NAME, which becomes host.name.
      { cwd: dir, stdio: 'ignore', env: { ...process.env, K8S_NODE_NAME: 'node-7' } },
    );
    try {
      // The collector's start is in it: 60 s, as collectors.start gives one.
      const samples = await poll('a scrape with every receiver', 60_000, async () => {
        const found = parseSamples(await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text());
        const names = new Set(found.map((s) => s.name));
        return names.has('hw_power_watts') &&
          names.has('process_cpu_time_seconds_total') &&
          names.has('container_cpu_time_seconds_total') &&
          names.has('inframeter_libvirt_domain_cpu_time_seconds_total')
          ? found
          : undefined;
      });
      const labelsOf = new Map<string, Set<string>>();
      for (const s of samples) {
        const set = labelsOf.get(s.name) ?? new Set<string>();
        for (const l of Object.keys(s.labels)) set.add(l);
        labelsOf.set(s.name, set);
      }
      const problems: string[] = [];
      for (const expr of exprs) {
        const { metrics, labels } = namesOf(expr);
        expect(metrics.length).toBeGreaterThan(0);
        for (const metric of metrics) {
          const served = labelsOf.get(metric);
          if (served === undefined) {
            problems.push(`${metric}: not served`);
            continue;
          }
          for (const label of labels) if (!served.has(label)) problems.push(`${metric}: no label ${label}`);
        }
      }
      expect(problems).toEqual([]);

      // The collector selector shows node names and selects by `instance`: its regex, applied
      // to target_info as Grafana's query_result() prints a series (labels in name order).
      const variable = (
        JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
          templating: { list: { name: string; regex?: string; definition?: string }[] };
        }
      ).templating.list.find((v) => v.name === 'instance');
      expect(variable?.definition).toBe('query_result(target_info)');
      const source = /^\/(.*)\/$/.exec(variable?.regex ?? '')?.[1] ?? '';
      const infos = samples.filter((x) => x.name === 'target_info');
      expect(infos.length).toBeGreaterThan(0);
      for (const info of infos) {
        const labels = Object.entries(info.labels)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => `${k}="${v}"`)
          .join(', ');
        const match = new RegExp(source).exec(`target_info{${labels}} 1 1796600000`);
        expect(match?.groups).toEqual({ text: 'node-7', value: info.labels.instance });
      }
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);

  it('finds a misspelt metric (the check can fail)', () => {
    expect(namesOf('sum by (instance) (rate(system_cpu_tme_seconds_total{cpu_mode!="idle"}[5m]))')).toEqual({
      metrics: ['system_cpu_tme_seconds_total'],
      labels: ['cpu_mode', 'instance'],
    });
  });
});
