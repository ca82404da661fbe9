import type { Point, Series } from './api.ts';

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
];

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

/**
 * A line chart of one series per host as a standalone SVG document: time (seconds since the
 * first point) across, values up, one colour per series with a legend.
 */
export function renderSvg(
  series: readonly Series[],
  options: { title: string; unit: string; width?: number; height?: number },
): string {
  const width = options.width ?? 900;
  const height = options.height ?? 360;
  const margin = { left: 70, right: 160, top: 36, bottom: 44 };
  const points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.v));
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const v0 = Math.min(0, ...points.map((p) => p.v));
  const v1 = Math.max(...points.map((p) => p.v));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const x = (t: number): number => margin.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW / 2);
  const y = (v: number): number =>
    margin.top + plotH - (v1 > v0 ? ((v - v0) / (v1 - v0)) * plotH : plotH / 2);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${String(margin.left)}" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  if (points.length === 0) {
    parts.push(
      `<text x="${String(width / 2)}" y="${String(height / 2)}" text-anchor="middle">no data</text></svg>`,
    );
    return parts.join('\n');
  }
  for (const v of ticks(v0, v1)) {
    const yy = y(v).toFixed(1);
    parts.push(
      `<line x1="${String(margin.left)}" x2="${String(margin.left + plotW)}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
    );
    parts.push(
      `<text x="${String(margin.left - 6)}" y="${yy}" text-anchor="end" dominant-baseline="middle">${label(v)}</text>`,
    );
  }
  for (const s of ticks(0, (t1 - t0) / 1000)) {
    const xx = x(t0 + s * 1000).toFixed(1);
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${String(margin.top + plotH)}" y2="${String(margin.top + plotH + 4)}" stroke="#444"/>`,
    );
    parts.push(
      `<text x="${xx}" y="${String(margin.top + plotH + 18)}" text-anchor="middle">${label(s)}</text>`,
    );
  }
  parts.push(
    `<text x="${String(margin.left + plotW / 2)}" y="${String(height - 6)}" text-anchor="middle">seconds since ${escapeXml(new Date(t0).toISOString())}</text>`,
    `<text transform="translate(14 ${String(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.unit)}</text>`,
    `<rect x="${String(margin.left)}" y="${String(margin.top)}" width="${String(plotW)}" height="${String(plotH)}" fill="none" stroke="#444"/>`,
  );
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length] ?? '#000';
    const valid = s.points.filter((p: Point) => Number.isFinite(p.v));
    if (valid.length > 0) {
      const d = valid
        .map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
        .join('');
      parts.push(
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"><title>${escapeXml(s.host)}</title></path>`,
      );
    }
    const ly = margin.top + 8 + i * 18;
    parts.push(
      `<line x1="${String(width - margin.right + 12)}" x2="${String(width - margin.right + 32)}" y1="${String(ly)}" y2="${String(ly)}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${String(width - margin.right + 38)}" y="${String(ly)}" dominant-baseline="middle">${escapeXml(s.host || '(no host)')}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
