import type { Series } from './api.ts';
import { Results } from './api.ts';
import { renderSvg } from './plot.ts';
import type { SeriesSummary } from './summary.ts';
import { summarize } from './summary.ts';

/** A chart of the report: what it shows and how it is computed from the rows. */
interface ChartSpec {
  title: string;
  metric: string;
  unit: string;
  /** Keeps an attribute set (all by default). */
  keep?: (attributes: Record<string, unknown>) => boolean;
  /** Counters are drawn as rates per second. */
  rate: boolean;
  /** Multiplies the values (e.g. bytes to MiB). */
  scale?: number;
}

/** The main metrics, drawn when the file has them. */
export const REPORT_CHARTS: readonly ChartSpec[] = [
  {
    title: 'CPU busy (cores)',
    metric: 'system.cpu.time',
    unit: 'CPU s/s',
    rate: true,
    keep: (a) => a['cpu.mode'] !== 'idle',
  },
  {
    title: 'Memory used',
    metric: 'system.memory.usage',
    unit: 'MiB',
    rate: false,
    scale: 1 / 2 ** 20,
    keep: (a) => a['system.memory.state'] === 'used',
  },
  {
    title: 'Network traffic',
    metric: 'system.network.io',
    unit: 'B/s',
    rate: true,
    keep: (a) => a['network.interface.name'] !== 'lo',
  },
  { title: 'Disk traffic', metric: 'system.disk.io', unit: 'B/s', rate: true },
  { title: 'Container CPU', metric: 'container.cpu.time', unit: 'CPU s/s', rate: true },
  { title: 'Host power', metric: 'hw.host.power', unit: 'W', rate: false },
  { title: 'Power', metric: 'hw.power', unit: 'W', rate: false },
];

/** Per host: the sum over kept attribute sets at each timestamp, as a rate for counters. */
export function chartSeries(results: Results, spec: ChartSpec): Series[] {
  const byHost = new Map<string, Series[]>();
  for (const s of results.series(spec.metric)) {
    if (spec.keep !== undefined && !spec.keep(s.attributes)) continue;
    const prepared = spec.rate ? Results.rate(s) : s;
    byHost.set(s.host, [...(byHost.get(s.host) ?? []), prepared]);
  }
  return [...byHost]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([host, list]) => {
      const sums = new Map<number, number>();
      for (const s of list)
        for (const p of s.points) sums.set(p.t, (sums.get(p.t) ?? 0) + p.v * (spec.scale ?? 1));
      const first = list[0];
      return {
        metric: spec.metric,
        host,
        unit: spec.unit,
        type: first?.type ?? '',
        attributes: {},
        points: [...sums].map(([t, v]) => ({ t, v })).sort((a, b) => a.t - b.t),
      };
    });
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

function summaryTable(rows: readonly SeriesSummary[]): string {
  const num = (n: number | undefined): string => (n === undefined ? '' : String(Number(n.toPrecision(6))));
  const body = rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.metric)}</td><td>${escapeHtml(r.host)}</td><td><code>${escapeHtml(r.attributes)}</code></td><td>${String(r.count)}</td><td>${num(r.mean)}</td><td>${num(r.min)}</td><td>${num(r.max)}</td><td>${num(r.p95)}</td><td>${num(r.rate)}</td></tr>`,
    )
    .join('\n');
  return `<table><thead><tr><th>metric</th><th>host</th><th>attributes</th><th>n</th><th>mean</th><th>min</th><th>max</th><th>p95</th><th>rate/s</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** One self-contained HTML page: the charts of the main metrics present, and their summary table. */
export async function buildReport(path: string, title: string): Promise<{ html: string; charts: number }> {
  const metrics = REPORT_CHARTS.map((c) => c.metric);
  const results = await Results.load(path, { metrics });
  const charts = REPORT_CHARTS.map((spec) => ({ spec, series: chartSeries(results, spec) })).filter((c) =>
    c.series.some((s) => s.points.length > 0),
  );
  const summary = await summarize(path, { metrics: charts.map((c) => c.spec.metric) });
  const hosts = results.hosts();
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
figure { margin: 1.5em 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; }
code { font-size: 12px; }
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${String(hosts.length)} hosts: ${hosts.map(escapeHtml).join(', ')}. Counters are drawn as rates per second, summed over the attribute sets shown.</p>
${charts.map((c) => `<figure>\n${renderSvg(c.series, { title: c.spec.title, unit: c.spec.unit })}\n</figure>`).join('\n')}
<h2>Summary</h2>
${summaryTable(summary)}
</body></html>
`;
  return { html, charts: charts.length };
}
