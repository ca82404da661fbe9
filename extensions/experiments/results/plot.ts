import type { Point } from './downsample.ts';
import { lttb } from './downsample.ts';
import type { Line } from './series.ts';

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
  '#637939',
];

/** Beyond this many lines a chart draws the spread across them (and names the highest few). */
export const MAX_NAMED_LINES = PALETTE.length;
/** Lines named in a spread chart: the highest peaks. */
const TOP_LINES = 3;

/**
 * Orders lines by a value, highest first, then by name. DuckDB's sums add their rows in an
 * order that varies from run to run (threads), so lines that are equal differ in their last
 * bits: rounded to 10 significant digits they tie, and the name decides, the same each run.
 */
export function byValueThenName<T>(value: (x: T) => number, name: (x: T) => string): (a: T, b: T) => number {
  const rank = (x: T): number => {
    const v = value(x);
    return Number.isFinite(v) ? Number(v.toPrecision(10)) : -Infinity;
  };
  return (a, b) => rank(b) - rank(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
}

/** What one chart shows. */
export interface Chart {
  title: string;
  /** The unit of the values (the y axis). */
  unit: string;
  lines: readonly Line[];
  /** The experiment's start and end, ms since the epoch: the x axis runs from 0 at t0. */
  t0: number;
  t1: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

/** Round tick values covering [min, max]. */
function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function label(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${String(Number((n / 1e9).toPrecision(3)))}G`;
  if (abs >= 1e6) return `${String(Number((n / 1e6).toPrecision(3)))}M`;
  if (abs >= 1e3) return `${String(Number((n / 1e3).toPrecision(3)))}k`;
  return String(Number(n.toPrecision(3)));
}

/** The time unit of the x axis for a span in seconds. */
function timeUnit(seconds: number): { divisor: number; name: string } {
  if (seconds >= 3 * 3600) return { divisor: 3600, name: 'h' };
  if (seconds >= 600) return { divisor: 60, name: 'min' };
  return { divisor: 1, name: 's' };
}

/** A line's points: per bucket its low and its high at the times they happened, in time order. */
export function envelope(line: Line): Point[] {
  const points: Point[] = [];
  for (const b of line.buckets) {
    if (b.lo === b.hi) points.push({ t: b.t, v: b.v });
    else if (b.tlo <= b.thi) points.push({ t: b.tlo, v: b.lo }, { t: b.thi, v: b.hi });
    else points.push({ t: b.thi, v: b.hi }, { t: b.tlo, v: b.lo });
  }
  return points.filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t));
}

/** Across lines, per bucket time: the lowest, mean and highest value. */
function spread(lines: readonly Line[]): { t: number; lo: number; mean: number; hi: number }[] {
  const byBucket = new Map<number, { t: number; lo: number; hi: number; sum: number; n: number }>();
  for (const line of lines) {
    line.buckets.forEach((b) => {
      if (!Number.isFinite(b.v)) return;
      // Lines share bucket boundaries; their times within a bucket differ a little.
      const key = Math.round(b.t / 1000);
      const s = byBucket.get(key) ?? { t: b.t, lo: Infinity, hi: -Infinity, sum: 0, n: 0 };
      s.lo = Math.min(s.lo, b.v);
      s.hi = Math.max(s.hi, b.v);
      s.sum += b.v;
      s.n += 1;
      byBucket.set(key, s);
    });
  }
  return [...byBucket.values()]
    .sort((a, b) => a.t - b.t)
    .map((s) => ({ t: s.t, lo: s.lo, mean: s.sum / s.n, hi: s.hi }));
}

/**
 * A line chart as a standalone SVG document: time since the experiment's start across (in
 * s, min or h), the metric's unit up, one coloured line per collector with a legend, each
 * line cut to about one point per horizontal pixel by LTTB so that any number of points
 * draws fast and keeps its peaks. With more lines than colours, the chart draws the band
 * from the lowest to the highest line and their mean, and names the highest few.
 */
export function renderSvg(chart: Chart, options: { width?: number; height?: number } = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 340;
  const margin = { left: 72, right: 190, top: 40, bottom: 46 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const many = chart.lines.length > MAX_NAMED_LINES;
  const named: { name: string; points: Point[]; colour: string; width: number }[] = [];
  let band: ReturnType<typeof spread> = [];
  if (many) {
    band = spread(chart.lines);
    const top = [...chart.lines]
      .map((l) => ({
        l,
        peak: Math.max(...l.buckets.map((b) => (Number.isFinite(b.hi) ? b.hi : -Infinity))),
      }))
      .sort(
        byValueThenName(
          (x) => x.peak,
          (x) => x.l.name,
        ),
      )
      .slice(0, TOP_LINES);
    named.push({
      name: `mean of ${chart.lines.length.toLocaleString('en-US')} hosts`,
      points: lttb(
        band.map((s) => ({ t: s.t, v: s.mean })),
        plotW,
      ),
      colour: '#111',
      width: 2,
    });
    top.forEach(({ l }, i) => {
      named.push({
        name: `${l.name} (highest)`,
        points: lttb(envelope(l), plotW),
        colour: PALETTE[i + 1] ?? '#d62728',
        width: 1.2,
      });
    });
  } else {
    chart.lines.forEach((l, i) => {
      named.push({
        name: l.name || '(no host)',
        points: lttb(envelope(l), plotW),
        colour: PALETTE[i % PALETTE.length] ?? '#000',
        width: 1.5,
      });
    });
  }
  const all = [
    ...named.flatMap((n) => n.points),
    ...band.flatMap((s) => [
      { t: s.t, v: s.lo },
      { t: s.t, v: s.hi },
    ]),
  ];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${String(margin.left)}" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(
      `<text x="${String(width / 2)}" y="${String(height / 2)}" text-anchor="middle">no data</text></svg>`,
    );
    return parts.join('\n');
  }
  let v0 = 0;
  let v1 = -Infinity;
  for (const p of all) {
    if (p.v < v0) v0 = p.v;
    if (p.v > v1) v1 = p.v;
  }
  if (!(v1 > v0)) v1 = v0 + 1;
  const t0 = chart.t0;
  const t1 = Math.max(chart.t1, t0 + 1);
  const x = (t: number): number => margin.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number): number => margin.top + plotH - ((v - v0) / (v1 - v0)) * plotH;
  for (const v of ticks(v0, v1)) {
    const yy = y(v).toFixed(1);
    parts.push(
      `<line x1="${String(margin.left)}" x2="${String(margin.left + plotW)}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${String(margin.left - 6)}" y="${yy}" text-anchor="end" dominant-baseline="middle">${label(v)}</text>`,
    );
  }
  const seconds = (t1 - t0) / 1000;
  const unit = timeUnit(seconds);
  for (const s of ticks(0, seconds / unit.divisor)) {
    const xx = x(t0 + s * unit.divisor * 1000).toFixed(1);
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${String(margin.top + plotH)}" y2="${String(margin.top + plotH + 4)}" stroke="#444"/>`,
      `<text x="${xx}" y="${String(margin.top + plotH + 17)}" text-anchor="middle">${label(s)}</text>`,
    );
  }
  parts.push(
    `<text x="${String(margin.left + plotW / 2)}" y="${String(height - 8)}" text-anchor="middle">time since start (${unit.name}); start ${escapeXml(new Date(t0).toISOString())}</text>`,
    `<text transform="translate(16 ${String(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(chart.unit)}</text>`,
  );
  if (band.length > 0) {
    const upper = band.map((s) => `${x(s.t).toFixed(1)},${y(s.hi).toFixed(1)}`);
    const lower = [...band].reverse().map((s) => `${x(s.t).toFixed(1)},${y(s.lo).toFixed(1)}`);
    parts.push(
      `<polygon points="${[...upper, ...lower].join(' ')}" fill="#9ecae1" fill-opacity="0.45" stroke="none"/>`,
    );
  }
  for (const n of named) {
    if (n.points.length === 0) continue;
    const d = n.points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
      .join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${n.colour}" stroke-width="${String(n.width)}" stroke-linejoin="round"><title>${escapeXml(n.name)}</title></path>`,
    );
  }
  parts.push(
    `<rect x="${String(margin.left)}" y="${String(margin.top)}" width="${String(plotW)}" height="${String(plotH)}" fill="none" stroke="#444"/>`,
  );
  const legendX = width - margin.right + 12;
  let ly = margin.top + 8;
  if (band.length > 0) {
    parts.push(
      `<rect x="${String(legendX)}" y="${String(ly - 6)}" width="20" height="12" fill="#9ecae1" fill-opacity="0.45"/>`,
      `<text x="${String(legendX + 26)}" y="${String(ly)}" dominant-baseline="middle">lowest to highest host</text>`,
    );
    ly += 18;
  }
  for (const n of named) {
    const text = n.name.length > 26 ? `${n.name.slice(0, 25)}…` : n.name;
    parts.push(
      `<line x1="${String(legendX)}" x2="${String(legendX + 20)}" y1="${String(ly)}" y2="${String(ly)}" stroke="${n.colour}" stroke-width="3"/>`,
      `<text x="${String(legendX + 26)}" y="${String(ly)}" dominant-baseline="middle">${escapeXml(text)}<title>${escapeXml(n.name)}</title></text>`,
    );
    ly += 18;
  }
  parts.push('</svg>');
  return parts.join('\n');
}
