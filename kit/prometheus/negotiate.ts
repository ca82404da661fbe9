import type { ExpositionFormat } from './exposition.ts';

/**
 * Content negotiation for a scrape (RFC 9110 §12.5.1 `Accept`): OpenMetrics 1.0.0 when the
 * scraper prefers it, else the text format 0.0.4. Prometheus 2.x sends
 * `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`.
 */

interface MediaRange {
  readonly type: string;
  readonly version: string | undefined;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [typePart = '', ...params] = part.split(';');
    const type = typePart.trim().toLowerCase();
    if (type === '') continue;
    let version: string | undefined;
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      } else if (name === 'version') version = value;
    }
    ranges.push({ type, version, q });
  }
  return ranges;
}

/** The highest quality the ranges give a format; 0 when none accepts it. */
function quality(ranges: readonly MediaRange[], format: ExpositionFormat): number {
  let best = 0;
  for (const { type, version, q } of ranges) {
    const accepts =
      format === 'openmetrics'
        ? type === 'application/openmetrics-text' && (version === undefined || version === '1.0.0')
        : (type === 'text/plain' && (version === undefined || version === '0.0.4')) ||
          type === 'text/*' ||
          type === '*/*';
    if (accepts) best = Math.max(best, q);
  }
  return best;
}

/**
 * The format to answer a scrape with. OpenMetrics only when enabled and asked for at least as
 * strongly as the text format; the text format otherwise, including when nothing offered is
 * acceptable (as the Prometheus client libraries do).
 */
export function negotiateFormat(accept: string | undefined, openMetricsEnabled: boolean): ExpositionFormat {
  if (!openMetricsEnabled || accept === undefined || accept.trim() === '') return 'text';
  const ranges = parseAccept(accept);
  const openMetrics = quality(ranges, 'openmetrics');
  return openMetrics > 0 && openMetrics >= quality(ranges, 'text') ? 'openmetrics' : 'text';
}
