import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricLines } from './api.ts';
import { Results } from './api.ts';
import { attributePath } from './filter.ts';
import { renderSvg } from './plot.ts';
import { byValueThenName, envelope } from './plot.ts';
import { EmptySelectionError } from './summary.ts';
import { kindOf, openDatabase, sourceSql, sqlString } from './source.ts';

/** A chart of the report: what it shows and how it is computed from the rows. */
interface ChartSpec {
  title: string;
  metric: string;
  unit: string;
  /** An SQL condition on a series' attributes (all by default). */
  where?: string;
  /** Multiplies the values (e.g. bytes to MiB). */
  scale?: number;
}

const attr = (key: string): string => `json_extract_string(attributes, ${attributePath(key)})`;

/** The main metrics, drawn when the file has them. Counters are drawn as rates per second. */
export const REPORT_CHARTS: readonly ChartSpec[] = [
  {
    title: 'CPU busy (cores)',
    metric: 'system.cpu.time',
    unit: 'CPU s/s',
    where: `${attr('cpu.mode')} <> 'idle'`,
  },
  {
    title: 'Memory used',
    metric: 'system.memory.usage',
    unit: 'MiB',
    scale: 1 / 2 ** 20,
    where: `${attr('system.memory.state')} = 'used'`,
  },
  {
    title: 'Network traffic',
    metric: 'system.network.io',
    unit: 'B/s',
    where: `coalesce(${attr('network.interface.name')}, '') <> 'lo'`,
  },
  { title: 'Disk traffic', metric: 'system.disk.io', unit: 'B/s' },
  { title: 'Container CPU (cores)', metric: 'container.cpu.time', unit: 'CPU s/s' },
  { title: 'Host power', metric: 'hw.host.power', unit: 'W' },
  { title: 'Power', metric: 'hw.power', unit: 'W' },
];

/** Hosts listed per chart in the report's tables; the rest are counted. */
const TABLE_ROWS = 12;

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

const num = (n: number): string => (Number.isFinite(n) ? String(Number(n.toPrecision(4))) : '');

/** Per line of a chart, its mean and peak, highest mean first; the rest counted. */
function chartTable(chart: MetricLines & { title: string }): string {
  const rows = chart.lines
    .map((l) => {
      const values = l.buckets.map((b) => b.v).filter(Number.isFinite);
      const peaks = envelope(l).map((p) => p.v);
      return {
        name: l.host,
        collector: l.collector,
        mean: values.reduce((s, v) => s + v, 0) / Math.max(1, values.length),
        peak: peaks.length === 0 ? Number.NaN : Math.max(...peaks),
      };
    })
    .sort(
      byValueThenName(
        (r) => r.mean,
        (r) => `${r.name}\u0000${r.collector}`,
      ),
    );
  const shown = rows.slice(0, TABLE_ROWS);
  const more = rows.length - shown.length;
  return `<table><colgroup><col style="width: 30%"><col style="width: 34%"><col style="width: 18%"><col style="width: 18%"></colgroup>
<caption>${escapeHtml(chart.title)}, in ${escapeHtml(chart.unit)}${rows.length > TABLE_ROWS ? `: the ${String(TABLE_ROWS)} highest means of ${rows.length.toLocaleString('en-US')} hosts` : ''}</caption>
<thead><tr><th>host</th><th>collector</th><th>mean</th><th>peak</th></tr></thead><tbody>
${shown.map((r) => `<tr><td title="${escapeHtml(r.name)}">${escapeHtml(r.name)}</td><td><code>${escapeHtml(r.collector)}</code></td><td>${num(r.mean)}</td><td>${num(r.peak)}</td></tr>`).join('\n')}
${more > 0 ? `<tr><td colspan="4">… and ${String(more)} more ${more === 1 ? 'host' : 'hosts'}</td></tr>` : ''}
</tbody></table>`;
}

/** "1 host", "3 hosts". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * One self-contained HTML page (no scripts, no external files: it opens offline) that fits a
 * laptop screen: what the file holds, the charts of the main metrics present (one line per
 * collector, or the spread across many), and per chart a small table of the hosts' means and
 * peaks. A CSV is converted to a temporary Parquet file first, so that the file is parsed
 * once however many charts are drawn.
 */
export async function buildReport(path: string, title: string): Promise<{ html: string; charts: number }> {
  const kind = kindOf(path);
  let file = path;
  let scratch: string | undefined;
  if (kind.format === 'csv') {
    scratch = mkdtempSync(join(tmpdir(), 'inframeter-report-'));
    file = join(scratch, 'results.parquet');
    const db = await openDatabase();
    try {
      await db.connection.run(
        `COPY (SELECT * FROM ${sourceSql(path, kind)}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } finally {
      db.close();
    }
  }
  const results = await Results.open(file);
  try {
    const overview = await results.overview();
    const { t0, t1 } = overview;
    const present = new Set(await results.metrics());
    const charts: (MetricLines & { title: string })[] = [];
    for (const spec of REPORT_CHARTS) {
      if (!present.has(spec.metric)) continue;
      try {
        const lines = await results.lines(spec.metric, {
          unit: spec.unit,
          span: { t0, t1 },
          // About one bucket per two pixels of the chart's plot area.
          buckets: 320,
          ...(spec.scale === undefined ? {} : { scale: spec.scale }),
          ...(spec.where === undefined ? {} : { where: spec.where }),
        });
        charts.push({ ...lines, title: spec.title, t0, t1 });
      } catch (error) {
        if (!(error instanceof EmptySelectionError)) throw error;
      }
    }
    const { hosts, collectors } = overview;
    const seconds = (t1 - t0) / 1000;
    const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; margin: 0 auto; padding: 1em 1.5em; max-width: 1000px; color: #222; }
h1 { font-size: 1.4em; margin: 0.3em 0; }
p.facts { color: #444; margin: 0.3em 0 1em; }
figure { margin: 0.8em 0 0.3em; }
figure svg { width: 100%; height: auto; display: block; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 1em; }
table { border-collapse: collapse; font-size: 13px; width: 100%; table-layout: fixed; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
code { font-size: 12px; }
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="facts">${plural(hosts, 'host')}${collectors !== hosts ? ` (${plural(collectors, 'collector')})` : ''}, ${plural(overview.metrics, 'metric')}, ${plural(overview.rows, 'row')} over ${num(seconds)} s from ${escapeHtml(new Date(t0).toISOString())}. Counters are drawn as rates per second, summed over the attribute sets shown; time runs from the start of the experiment.</p>
${charts.map((c) => `<figure>\n${renderSvg(c)}\n</figure>`).join('\n')}
<h2>Per host</h2>
<div class="tables">
${charts.map(chartTable).join('\n')}
</div>
</body></html>
`;
    return { html, charts: charts.length };
  } finally {
    results.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
}
