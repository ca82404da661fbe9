import { ParseError } from '../../../service/errors.ts';

/** A metric family of the Prometheus text format or OpenMetrics. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  unit: string;
  samples: Sample[];
}

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_total`, …). */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the exporter gave one. */
  timestamp: number | undefined;
}

const TYPES = new Set([
  'counter',
  'gauge',
  'histogram',
  'summary',
  'untyped',
  'unknown',
  'gaugehistogram',
  'stateset',
  'info',
]);
const SUFFIXES = ['_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info'];

function parseValue(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return Number.NaN;
    default:
      return text === '' ? Number.NaN : Number(text);
  }
}

/** `{a="x",b="y\"z"}` from position `at` (just after `{`); returns labels and the index after `}`. */
function parseLabels(
  line: string,
  at: number,
  source: string,
  lineNo: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (nameMatch === null)
      throw new ParseError(source, lineNo, `expected a label name at column ${String(i + 1)}`);
    const name = nameMatch[0];
    i += name.length;
    while (line[i] === ' ') i++;
    if (line[i] !== '=' || line[i + 1] !== '"')
      throw new ParseError(source, lineNo, `expected ="…" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new ParseError(source, lineNo, `label ${name}: unterminated value`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        value += n === 'n' ? '\n' : (n ?? '');
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
  }
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  for (const suffix of SUFFIXES) {
    if (name.endsWith(suffix)) {
      const family = families.get(name.slice(0, -suffix.length));
      if (family !== undefined) return family;
    }
  }
  return undefined;
}

/**
 * Parses the Prometheus text format (0.0.4) or OpenMetrics 1.0 (`openMetrics`: timestamps in
 * seconds, `# UNIT`, `# EOF`). Samples without a `# TYPE` are untyped families of their own.
 * Throws a {@link ParseError} naming the line of anything that is not the format.
 */
export function parseExposition(text: string, source: string, openMetrics = false): Family[] {
  const families = new Map<string, Family>();
  const order: Family[] = [];
  const declare = (name: string): Family => {
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type: 'untyped', help: '', unit: '', samples: [] };
      families.set(name, family);
      order.push(family);
    }
    return family;
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? '').replace(/\r$/, '');
    const lineNo = n + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE|UNIT)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (meta !== null) {
        const [, kind, name = '', rest = ''] = meta;
        const family = declare(name);
        if (kind === 'HELP') family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
        else if (kind === 'UNIT') family.unit = rest;
        else {
          if (!TYPES.has(rest)) throw new ParseError(source, lineNo, `unknown metric type "${rest}"`);
          family.type =
            rest === 'counter' || rest === 'gauge' || rest === 'histogram' || rest === 'summary'
              ? rest
              : 'untyped';
        }
      } else if (line.trim() === '# EOF') break;
      continue;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (nameMatch === null)
      throw new ParseError(source, lineNo, `not a sample: ${JSON.stringify(line.slice(0, 80))}`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i + 1, source, lineNo));
    const rest = line.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest[0] === '' || rest.length > 2)
      throw new ParseError(source, lineNo, `expected a value and an optional timestamp after ${name}`);
    const value = parseValue(rest[0] ?? '');
    if (Number.isNaN(value) && rest[0] !== 'NaN')
      throw new ParseError(source, lineNo, `value "${rest[0] ?? ''}" is not a number`);
    let timestamp: number | undefined;
    if (rest[1] !== undefined) {
      const t = Number(rest[1]);
      if (!Number.isFinite(t)) throw new ParseError(source, lineNo, `timestamp "${rest[1]}" is not a number`);
      timestamp = openMetrics ? t * 1000 : t;
    }
    const family = familyOf(name, families) ?? declare(name);
    family.samples.push({ name, labels, value, timestamp });
  }
  return order.filter((f) => f.samples.length > 0);
}
