import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';

/** The formats `results plot` writes, by the output's extension. */
export const PLOT_FORMATS = ['.svg', '.png', '.pdf'] as const;

/** A Chromium binary: `CHROMIUM` if set, else the first of the usual names found on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = env.CHROMIUM;
  if (given !== undefined && given !== '') return given;
  for (const dir of (env.PATH ?? '/usr/bin').split(':')) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

/** Charts (SVG documents of one size) stacked into one SVG document. */
export function stackSvg(charts: readonly string[], width: number, height: number): string {
  if (charts.length === 1) return charts[0] ?? '';
  const total = height * charts.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(total)}" viewBox="0 0 ${String(width)} ${String(total)}">`,
    ...charts.map((svg, i) => svg.replace('<svg ', `<svg y="${String(i * height)}" `)),
    '</svg>',
  ].join('\n');
}

/** Runs headless Chromium on a local file with the flags it needs in a container, as root. */
export function runChromium(browser: string, args: readonly string[], url: string): void {
  const profile = mkdtempSync(join(tmpdir(), 'inframeter-chromium-'));
  try {
    const r = spawnSync(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        ...args,
        url,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (r.error !== undefined) throw new Error(`${browser}: ${r.error.message}`);
    if (r.status !== 0)
      throw new Error(`${browser} failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Writes charts to `out` in the format its extension names: SVG as it is, PNG and PDF
 * through headless Chromium (a page of exactly the charts' size). Another extension, or PNG
 * and PDF without Chromium, is an error that says what to do.
 */
export function writeCharts(charts: readonly string[], out: string, width: number, height: number): void {
  const ext = extname(out).toLowerCase();
  if (!(PLOT_FORMATS as readonly string[]).includes(ext))
    throw new Error(
      `${out}: plots are written as ${PLOT_FORMATS.join(', ')}; not ${ext === '' ? 'a name without an extension' : ext}`,
    );
  const svg = stackSvg(charts, width, height);
  if (ext === '.svg') {
    writeFileSync(out, svg);
    return;
  }
  const browser = findChromium();
  if (browser === undefined)
    throw new Error(
      `${ext} output needs Chromium (Debian package chromium, or CHROMIUM=path); write .svg instead`,
    );
  const total = height * charts.length;
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-plot-'));
  try {
    const page = join(dir, 'chart.html');
    writeFileSync(
      page,
      `<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page { size: ${String(width)}px ${String(total)}px; margin: 0 } html, body { margin: 0; padding: 0; background: #fff } svg { display: block }</style></head><body>${svg}</body></html>`,
    );
    const target = resolve(out);
    runChromium(
      browser,
      ext === '.png'
        ? [`--screenshot=${target}`, `--window-size=${String(width)},${String(total)}`]
        : [`--print-to-pdf=${target}`, '--no-pdf-header-footer'],
      `file://${page}`,
    );
    if (!existsSync(target)) throw new Error(`${browser} wrote no ${ext} file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
