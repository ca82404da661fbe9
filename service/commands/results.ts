import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RowFilter } from '../../extensions/experiments/results/filter.ts';

export interface FilterOptions {
  metric?: string[];
  host?: string[];
  collector?: string[];
  from?: string;
  to?: string;
  attr?: string[];
}

function attributes(list: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`--attr ${a}: expected key=value`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

function rowFilter(o: FilterOptions): RowFilter {
  return {
    ...(o.metric === undefined ? {} : { metrics: o.metric }),
    ...(o.host === undefined ? {} : { hosts: o.host }),
    ...(o.collector === undefined ? {} : { collectors: o.collector }),
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.to === undefined ? {} : { to: o.to }),
    attributes: attributes(o.attr),
  };
}

export async function resultsSummary(
  file: string,
  o: FilterOptions & { json?: boolean; p95?: boolean },
  out: Writable,
): Promise<number> {
  const { summarize, formatSummary } = await import('../../extensions/experiments/results/summary.ts');
  const rows = await summarize(file, rowFilter(o), { p95: o.p95 === true });
  // JSON: an array with one series per line (indenting each field took longer than the
  // summary itself for the 500,000 series of a cluster).
  out.write(
    o.json === true
      ? `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`
      : `${formatSummary(rows)}\n`,
  );
  return 0;
}

/** Plots are this size, per chart. */
const CHART_WIDTH = 900;
const CHART_HEIGHT = 340;

export async function resultsPlot(
  file: string,
  o: FilterOptions & { metric: string[]; out?: string; rate?: boolean },
  out: Writable,
): Promise<number> {
  const { Results } = await import('../../extensions/experiments/results/api.ts');
  const { renderSvg } = await import('../../extensions/experiments/results/plot.ts');
  const { writeCharts } = await import('../../extensions/experiments/results/render.ts');
  const { plural } = await import('../../extensions/experiments/results/report.ts');
  const target = o.out ?? `${o.metric[0] ?? 'plot'}.svg`;
  const results = await Results.open(file);
  try {
    const filter = rowFilter(o);
    delete filter.metrics;
    const charts: string[] = [];
    const counts: string[] = [];
    const drawn = [];
    for (const metric of o.metric) {
      drawn.push(await results.lines(metric, { ...filter, ...(o.rate === false ? { rate: false } : {}) }));
    }
    // One time axis for every chart of the file: from the first of them to the last.
    const t0 = Math.min(...drawn.map((d) => d.t0));
    const t1 = Math.max(...drawn.map((d) => d.t1));
    for (const d of drawn) {
      const rate = d.unit.endsWith('/s') && d.type === 'counter';
      charts.push(
        renderSvg(
          {
            title: `${d.metric}${o.attr === undefined ? '' : ` {${o.attr.join(', ')}}`}${rate ? ' (rate)' : ''}`,
            unit: d.unit,
            lines: d.lines,
            t0,
            t1,
          },
          { width: CHART_WIDTH, height: CHART_HEIGHT },
        ),
      );
      counts.push(`${d.metric}: ${plural(d.lines.length, 'line')}`);
    }
    writeCharts(charts, target, CHART_WIDTH, CHART_HEIGHT);
    out.write(`${target}: ${counts.join('; ')}\n`);
    return 0;
  } finally {
    results.close();
  }
}

export async function resultsReport(
  file: string,
  o: { out: string; title?: string },
  out: Writable,
): Promise<number> {
  const { buildReport, plural } = await import('../../extensions/experiments/results/report.ts');
  const { html, charts } = await buildReport(file, o.title ?? `Experiment results: ${file}`);
  writeFileSync(o.out, html);
  out.write(`${o.out}: ${plural(charts, 'chart')}\n`);
  return 0;
}

export async function resultsConvert(input: string, output: string, out: Writable): Promise<number> {
  const { mergeParts } = await import('../../extensions/experiments/merge.ts');
  const { plural } = await import('../../extensions/experiments/results/report.ts');
  const rows = await mergeParts([input], output);
  out.write(`${output}: ${plural(rows, 'row')}\n`);
  return 0;
}
