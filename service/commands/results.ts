import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { Writable } from 'node:stream';

export interface FilterOptions {
  metric?: string[];
  host?: string[];
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

export async function resultsSummary(
  file: string,
  o: FilterOptions & { json?: boolean },
  out: Writable,
): Promise<number> {
  const { summarize, formatSummary } = await import('../../experiments/results/summary.ts');
  const rows = await summarize(file, {
    ...(o.metric === undefined ? {} : { metrics: o.metric }),
    ...(o.host === undefined ? {} : { hosts: o.host }),
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.to === undefined ? {} : { to: o.to }),
    attributes: attributes(o.attr),
  });
  out.write(o.json === true ? `${JSON.stringify(rows, null, 2)}\n` : `${formatSummary(rows)}\n`);
  return 0;
}

/** A Chromium binary for PNG output, if one is installed. */
function chromium(): string | undefined {
  return ['chromium', 'chromium-browser', 'google-chrome'].find(
    (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0,
  );
}

export async function resultsPlot(
  file: string,
  o: FilterOptions & { metric: string[]; out?: string; rate?: boolean },
  out: Writable,
): Promise<number> {
  const { Results } = await import('../../experiments/results/api.ts');
  const { renderSvg } = await import('../../experiments/results/plot.ts');
  const metric = o.metric[0] ?? '';
  const results = await Results.load(file, {
    metrics: [metric],
    ...(o.host === undefined ? {} : { hosts: o.host }),
  });
  const from = o.from === undefined ? undefined : Date.parse(o.from);
  const to = o.to === undefined ? undefined : Date.parse(o.to);
  let series = results.perHost(metric, {
    attributes: attributes(o.attr),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  });
  if (series.length === 0)
    throw new Error(
      `no rows of ${metric} in ${file}${o.attr === undefined ? '' : ` with ${o.attr.join(', ')}`}`,
    );
  const counter = series[0]?.type === 'counter';
  if (o.rate ?? counter) series = series.map((s) => Results.rate(s));
  const unit = series[0]?.unit ?? '';
  const svg = renderSvg(series, {
    title: `${metric}${o.attr === undefined ? '' : ` {${o.attr.join(', ')}}`}${counter ? ' (rate)' : ''}`,
    unit,
  });
  const target = o.out ?? `${metric}.svg`;
  if (extname(target).toLowerCase() === '.png') {
    const browser = chromium();
    if (browser === undefined)
      throw new Error('PNG output needs Chromium (Debian package chromium); write .svg instead');
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-plot-'));
    try {
      writeFileSync(join(dir, 'chart.svg'), svg);
      const shot = spawnSync(
        browser,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          `--screenshot=${target}`,
          '--window-size=900,360',
          '--hide-scrollbars',
          `file://${join(dir, 'chart.svg')}`,
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (shot.status !== 0)
        throw new Error(`chromium failed: ${shot.stderr.trim().split('\n').slice(-3).join(' ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    writeFileSync(target, svg);
  }
  out.write(`${target}: ${String(series.length)} hosts\n`);
  return 0;
}

export async function resultsReport(
  file: string,
  o: { out: string; title?: string },
  out: Writable,
): Promise<number> {
  const { buildReport } = await import('../../experiments/results/report.ts');
  const { html, charts } = await buildReport(file, o.title ?? `Experiment results: ${file}`);
  writeFileSync(o.out, html);
  out.write(`${o.out}: ${String(charts)} charts\n`);
  return 0;
}
