import { ParseError } from '../../../kit/errors.ts';
import type { Exemplar } from './line.ts';
import { LineError, LineReader, parseNumber, parseSampleLine } from './line.ts';

/** The metric types of both formats: OpenMetrics 1.0's, and the text format's `untyped`. */
export type FamilyType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'gaugehistogram'
  | 'summary'
  | 'stateset'
  | 'info'
  | 'unknown'
  | 'untyped';

/** A metric family of the Prometheus text format or OpenMetrics. */
export interface Family {
  /** The family name: `x` for OpenMetrics counter samples `x_total`; the sample name in the text format. */
  name: string;
  type: FamilyType;
  help: string;
  /** The `# UNIT` (OpenMetrics), as written; empty when none. */
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
  /** The OpenMetrics exemplar of the sample, when it had one. */
  exemplar?: Exemplar | undefined;
}

const TYPES: ReadonlySet<string> = new Set<FamilyType>([
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'stateset',
  'info',
  'unknown',
  'untyped',
]);

/**
 * The sample names a family of each type has, as suffixes of the family name ('' is the
 * name itself). OpenMetrics 1.0, "Metric types"; the text format names counters and info
 * samples like their family.
 */
function suffixesOf(type: FamilyType, openMetrics: boolean): readonly string[] {
  switch (type) {
    case 'counter':
      return openMetrics ? ['_total', '_created'] : ['', '_total', '_created'];
    case 'histogram':
      return ['_bucket', '_count', '_sum', '_created'];
    case 'gaugehistogram':
      return ['_bucket', '_gcount', '_gsum'];
    case 'summary':
      return ['', '_count', '_sum', '_created'];
    case 'info':
      return openMetrics ? ['_info'] : [''];
    case 'gauge':
    case 'stateset':
    case 'unknown':
    case 'untyped':
      return [''];
  }
}

/** Whether a sample named `name` belongs to `family`. */
function fits(family: Family, name: string, openMetrics: boolean): boolean {
  if (!name.startsWith(family.name)) return false;
  const suffix = name.slice(family.name.length);
  return suffixesOf(family.type, openMetrics).includes(suffix);
}

/** Samples that may carry an exemplar (OpenMetrics, "Exemplars"). */
function takesExemplar(family: Family, name: string): boolean {
  if (family.type === 'counter') return name === `${family.name}_total`;
  if (family.type === 'histogram' || family.type === 'gaugehistogram')
    return name === `${family.name}_bucket`;
  return false;
}

/** What the sample must have for its family's type: `le` and `quantile` numbers, a stateset's state. */
function checkSample(family: Family, name: string, labels: Record<string, string>): string | undefined {
  if ((family.type === 'histogram' || family.type === 'gaugehistogram') && name === `${family.name}_bucket`) {
    const le = labels.le;
    if (le === undefined) return `${name} has no le label`;
    if (parseNumber(le) === undefined) return `${name}: le="${le}" is not a number`;
  }
  if (family.type === 'summary' && name === family.name) {
    const q = labels.quantile;
    if (q === undefined) return `${name} (a summary's quantile) has no quantile label`;
    const v = parseNumber(q);
    if (v === undefined || !(v >= 0 && v <= 1)) return `${name}: quantile="${q}" is not a number in [0, 1]`;
  }
  if (family.type === 'stateset' && labels[family.name] === undefined)
    return `${name} (a stateset) has no label ${family.name} naming its state`;
  return undefined;
}

/** HELP text unescaped: `\\` and `\n`, and in OpenMetrics `\"`. */
function unescapeHelp(text: string, openMetrics: boolean): string {
  return text.replace(/\\(.)/g, (all, c: string) =>
    c === 'n' ? '\n' : c === '\\' || (openMetrics && c === '"') ? c : all,
  );
}

/** The state of one parse. */
class ExpositionParser {
  readonly #source: string;
  readonly #openMetrics: boolean;
  readonly #families = new Map<string, Family>();
  readonly #order: Family[] = [];
  /** The family the last line belonged to: OpenMetrics keeps a family's lines together. */
  #current: Family | undefined;
  /** Families whose lines have ended (another family came after): OpenMetrics forbids going back. */
  readonly #closed = new Set<Family>();
  /** Per family, the metadata kinds already given. */
  readonly #metadata = new Map<Family, Set<string>>();
  #lineNo = 0;

  constructor(source: string, openMetrics: boolean) {
    this.#source = source;
    this.#openMetrics = openMetrics;
  }

  fail(detail: string): never {
    throw new ParseError(this.#source, this.#lineNo, detail);
  }

  parse(text: string): Family[] {
    const lines = text.split('\n');
    // A final line feed ends the last line; it does not start another.
    if (lines.at(-1) === '') lines.pop();
    let eof = false;
    for (let n = 0; n < lines.length; n++) {
      this.#lineNo = n + 1;
      let line = lines[n] ?? '';
      if (!this.#openMetrics && line.endsWith('\r')) line = line.slice(0, -1);
      if (eof) this.fail('nothing may follow # EOF');
      try {
        if (line === '# EOF' && this.#openMetrics) eof = true;
        else if (line.startsWith('#')) this.#comment(line);
        else if (line.trim() === '') {
          if (this.#openMetrics) this.fail('empty lines are not allowed in OpenMetrics');
        } else this.#sample(line);
      } catch (error) {
        if (error instanceof LineError) this.fail(error.message);
        throw error;
      }
    }
    if (this.#openMetrics && !eof) {
      this.#lineNo = lines.length;
      this.fail('an OpenMetrics exposition ends with # EOF');
    }
    return this.#order.filter((f) => f.samples.length > 0);
  }

  /**
   * The family `name`, made current. Metadata of a family whose lines have ended starts a new
   * family of that name (`fromMetadata`), as does metadata after the family's samples: the
   * OpenMetrics specification forbids two families of one name, but the Go client library
   * writes a gauge `x` right before a counter `x` (samples `x_total`) for some Go runtime
   * metrics, and Prometheus reads them, so do we.
   */
  #declare(name: string, fromMetadata = false): Family {
    let family = this.#families.get(name);
    if (family !== undefined && fromMetadata && this.#closed.has(family)) return this.#restart(name);
    if (family === undefined) {
      family = { name, type: this.#openMetrics ? 'unknown' : 'untyped', help: '', unit: '', samples: [] };
      this.#families.set(name, family);
      this.#order.push(family);
    }
    this.#enter(family);
    return family;
  }

  /** A new family `name` in place of the one of that name, made current. */
  #restart(name: string): Family {
    const family: Family = {
      name,
      type: this.#openMetrics ? 'unknown' : 'untyped',
      help: '',
      unit: '',
      samples: [],
    };
    this.#families.set(name, family);
    this.#order.push(family);
    this.#enter(family);
    return family;
  }

  /** Makes `family` the current one; in OpenMetrics a family may not come back once left. */
  #enter(family: Family): void {
    if (this.#current === family) return;
    if (this.#openMetrics && this.#closed.has(family))
      this.fail(`the lines of family ${family.name} are interleaved with another family's`);
    if (this.#current !== undefined) this.#closed.add(this.#current);
    this.#current = family;
  }

  #comment(line: string): void {
    const r: LineReader = new LineReader(line, this.#openMetrics, 1);
    const hasSpace = r.blanks();
    const keyword = r.word();
    if (!hasSpace || (keyword !== 'HELP' && keyword !== 'TYPE' && keyword !== 'UNIT')) {
      // The text format allows other comments; OpenMetrics has none.
      if (this.#openMetrics)
        this.fail(
          `not a metadata line (# HELP, # TYPE, # UNIT or # EOF): ${JSON.stringify(line.slice(0, 80))}`,
        );
      return;
    }
    if (keyword === 'UNIT' && !this.#openMetrics) return;
    if (!r.blanks()) this.fail(`expected a metric name after # ${keyword}`);
    const name = r.metricName();
    let rest = '';
    if (r.blanks()) rest = r.rest();
    else if (!r.done()) this.fail(`expected a space after the metric name ${name}`);
    let family = this.#declare(name, true);
    let given = this.#metadata.get(family);
    if (given === undefined) {
      given = new Set();
      this.#metadata.set(family, given);
    }
    if (family.samples.length > 0) {
      // Metadata after a family's samples starts another family of that name (see #declare).
      family = this.#restart(name);
      given = new Set();
      this.#metadata.set(family, given);
    }
    if (given.has(keyword)) this.fail(`a second # ${keyword} for ${name}`);
    given.add(keyword);
    switch (keyword) {
      case 'HELP':
        family.help = unescapeHelp(rest, this.#openMetrics);
        break;
      case 'TYPE': {
        const type = rest.trim();
        if (!TYPES.has(type) || (this.#openMetrics && type === 'untyped'))
          this.fail(`unknown metric type ${JSON.stringify(type)}`);
        family.type = type as FamilyType;
        if (family.unit !== '') this.#checkUnit(family);
        break;
      }
      case 'UNIT':
        family.unit = rest;
        this.#checkUnit(family);
        break;
    }
  }

  /** OpenMetrics: a unit is the last part of its family's name; info and statesets have none. */
  #checkUnit(family: Family): void {
    if (family.unit === '') return;
    if (!family.name.endsWith(`_${family.unit}`))
      this.fail(`unit ${family.unit} is not the suffix of the family name ${family.name}`);
    if (family.type === 'info' || family.type === 'stateset') this.fail(`a ${family.type} has no unit`);
  }

  #sample(line: string): void {
    const { name, labels, value, timestamp, exemplar } = parseSampleLine(line, this.#openMetrics);
    const family = this.#familyOf(name);
    const problem = checkSample(family, name, labels);
    if (problem !== undefined) this.fail(problem);
    if (exemplar !== undefined && !takesExemplar(family, name))
      this.fail(`${name}: only counter totals and histogram buckets carry exemplars`);
    family.samples.push({ name, labels, value, timestamp, ...(exemplar === undefined ? {} : { exemplar }) });
  }

  /** The family a sample belongs to: the current one, one declared before, or a new untyped one. */
  #familyOf(name: string): Family {
    const om = this.#openMetrics;
    const current = this.#current;
    if (current !== undefined && fits(current, name, om)) return current;
    const direct = this.#families.get(name);
    if (direct !== undefined && fits(direct, name, om)) {
      this.#enter(direct);
      return direct;
    }
    for (const suffix of ['_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info']) {
      if (!name.endsWith(suffix)) continue;
      const family = this.#families.get(name.slice(0, -suffix.length));
      if (family !== undefined && fits(family, name, om)) {
        this.#enter(family);
        return family;
      }
    }
    if (direct !== undefined) {
      if (om) this.fail(`${name} is not a sample name of the ${direct.type} family ${direct.name}`);
      return direct;
    }
    return this.#declare(name);
  }
}

/**
 * Parses the Prometheus text format (0.0.4) or OpenMetrics 1.0 (`openMetrics`: timestamps in
 * seconds, `# UNIT`, exemplars, `# EOF`, single spaces, one family's lines together). Every
 * type of both formats is read; names may be quoted UTF-8 (`{"my.metric"} 1`). Samples
 * without a `# TYPE` are untyped (unknown) families of their own. Throws a
 * {@link ParseError} naming the line (and column) of anything that is not the format.
 */
export function parseExposition(text: string, source: string, openMetrics = false): Family[] {
  return new ExpositionParser(source, openMetrics).parse(text);
}
