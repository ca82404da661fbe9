import type { Family } from '../../receivers/prometheus/parse/exposition.ts';

/**
 * An OpenMetrics exposition with exemplars, and a comparable view of the exemplars of an
 * exposition, for the tests that pass exemplars through collectors.
 */

export const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
export const SPAN = '00f067aa0ba902b7';
/** The OpenMetrics specification's examples ("Exemplars", "Histogram", "Counter"), and a target. */
export const SOURCE = [
  '# TYPE target info',
  '# HELP target Target metadata',
  'target_info{env="prod",region="eu-west",hostname="app-1",team="a b \\"c\\""} 1',
  '# TYPE foo histogram',
  '# HELP foo Request latency.',
  'foo_bucket{le="0.01"} 0',
  'foo_bucket{le="0.1"} 8 # {} 0.054',
  'foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67',
  'foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789',
  'foo_bucket{le="+Inf"} 17',
  'foo_count 17',
  'foo_sum 324789.3',
  'foo_created 1520430000.123',
  '# TYPE bar counter',
  '# HELP bar Requests served.',
  'bar_total{path="/a"} 17.0 # {trace_id="KOO5S4vxi0o"} 0.67 1520879602.890',
  `bar_total{path="/b"} 3.0 # {trace_id="${TRACE}",span_id="${SPAN}",user="u1"} 1.0 1700000000.5`,
  'bar_total{path="/c"} 5.0',
  'bar_created{path="/a"} 1520430000.123',
  '# TYPE temperature gauge',
  '# HELP temperature Inlet temperature.',
  'temperature 21.5',
  '# EOF',
  '',
].join('\n');
export const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const ACCEPT_OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';
/** Labels the receiver and exporter add to every series. */
const ADDED = new Set(['job', 'instance', 'otel_scope_name', 'otel_scope_version']);

/** Every sample that has an exemplar, as `name{labels} # {exemplar labels} value timestamp`, sorted. */
export function exemplarLines(families: Family[]): string[] {
  const labelText = (labels: Readonly<Record<string, string>>, drop: ReadonlySet<string>): string =>
    Object.entries(labels)
      .filter(([k]) => !drop.has(k))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',');
  const lines: string[] = [];
  for (const f of families)
    for (const s of f.samples) {
      const e = s.exemplar;
      if (e === undefined) continue;
      lines.push(
        `${s.name}{${labelText(s.labels, ADDED)}} # {${labelText(e.labels, new Set())}} ${String(e.value)} ${String(e.timestamp)}`,
      );
    }
  return lines.sort();
}
