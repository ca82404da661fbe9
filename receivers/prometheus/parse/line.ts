/**
 * The parts of one exposition line, for both the Prometheus text format 0.0.4 and
 * OpenMetrics 1.0: names (plain, or quoted UTF-8 names as Prometheus 3 writes them), label
 * sets with their escapes, numbers, timestamps and exemplars. Pure: a cursor over one line,
 * throwing {@link LineError} with the column of what is not the format.
 */

/** What is wrong with a line, at a 1-based column; the caller adds the source and the line. */
export class LineError extends Error {
  readonly column: number;
  constructor(column: number, detail: string) {
    super(`column ${String(column)}: ${detail}`);
    this.column = column;
  }
}

/** An OpenMetrics exemplar: `# {trace_id="…"} 1.0 1700000000.0` after a sample. */
export interface Exemplar {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch, when the exemplar had one. */
  readonly timestamp: number | undefined;
}

/** One sample line, its labels still including the metric name when it was quoted inside `{}`. */
export interface SampleLine {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
  /** Milliseconds since the epoch, when the line had one. */
  readonly timestamp: number | undefined;
  readonly exemplar: Exemplar | undefined;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const REAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const INTEGER = /^[+-]?[0-9]+$/;
/** OpenMetrics: an exemplar's label names and values together, in UTF-8 characters. */
const EXEMPLAR_LABELS_MAX = 128;

/**
 * A sample value: a decimal or exponent number, `+Inf`/`-Inf`/`Inf` and `NaN` in any case
 * (`inf`, `infinity` too, as Go's ParseFloat reads them, which both formats refer to).
 */
export function parseNumber(text: string): number | undefined {
  if (REAL.test(text)) return Number(text);
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return Number.NaN;
    default:
      return undefined;
  }
}

/** The number of Unicode characters (code points) of a string. */
function codePoints(text: string): number {
  // Surrogate pairs are one character: count the code units that do not start a pair's second half.
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) n += 1;
  }
  return n;
}

/** A cursor over one line. */
export class LineReader {
  readonly #line: string;
  #at: number;
  /** OpenMetrics: single spaces, no trailing comma in label sets, timestamps in seconds. */
  readonly #openMetrics: boolean;

  constructor(line: string, openMetrics: boolean, at = 0) {
    this.#line = line;
    this.#openMetrics = openMetrics;
    this.#at = at;
  }

  done(): boolean {
    return this.#at >= this.#line.length;
  }

  get position(): number {
    return this.#at;
  }

  fail(detail: string): never {
    throw new LineError(this.#at + 1, detail);
  }

  peek(): string | undefined {
    return this.#line[this.#at];
  }

  /** Skips blanks; whether there were any. OpenMetrics separates tokens by exactly one space. */
  blanks(): boolean {
    const from = this.#at;
    while (this.#line[this.#at] === ' ' || (!this.#openMetrics && this.#line[this.#at] === '\t'))
      this.#at += 1;
    if (this.#openMetrics && this.#at - from > 1) {
      this.#at = from + 1;
      this.fail('tokens are separated by exactly one space in OpenMetrics');
    }
    return this.#at > from;
  }

  /** The rest of the line from the cursor. */
  rest(): string {
    const text = this.#line.slice(this.#at);
    this.#at = this.#line.length;
    return text;
  }

  /** A token up to the next blank. */
  word(): string {
    const from = this.#at;
    while (this.#at < this.#line.length && this.#line[this.#at] !== ' ' && this.#line[this.#at] !== '\t')
      this.#at += 1;
    return this.#line.slice(from, this.#at);
  }

  /** A metric name: plain, or a quoted UTF-8 name. */
  metricName(): string {
    if (this.peek() === '"') return this.quoted('metric name');
    const match = METRIC_NAME.exec(this.#line.slice(this.#at));
    if (match === null) this.fail('expected a metric name');
    this.#at += match[0].length;
    return match[0];
  }

  /** A label name: plain, or a quoted UTF-8 name. */
  labelName(): string {
    if (this.peek() === '"') return this.quoted('label name');
    const match = LABEL_NAME.exec(this.#line.slice(this.#at));
    if (match === null) this.fail('expected a label name');
    this.#at += match[0].length;
    return match[0];
  }

  /** A double-quoted string with the escapes `\\`, `\"` and `\n`. */
  quoted(what: string): string {
    if (this.peek() !== '"') this.fail(`expected a quoted ${what}`);
    this.#at += 1;
    let value = '';
    let from = this.#at;
    for (;;) {
      const c = this.#line[this.#at];
      if (c === undefined) this.fail(`unterminated ${what}`);
      if (c === '"') break;
      if (c === '\\') {
        value += this.#line.slice(from, this.#at);
        const next = this.#line[this.#at + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else this.fail(`invalid escape \\${next ?? ''} in ${what} (only \\\\, \\" and \\n)`);
        this.#at += 2;
        from = this.#at;
        continue;
      }
      this.#at += 1;
    }
    value += this.#line.slice(from, this.#at);
    this.#at += 1;
    return value;
  }

  /**
   * A label set from `{` to `}`. A quoted string standing alone (not followed by `=`) is the
   * metric name, returned as `name` (Prometheus 3's `{"my.metric", a="b"}`).
   */
  labels(): { labels: Record<string, string>; name: string | undefined } {
    if (this.peek() !== '{') this.fail('expected {');
    this.#at += 1;
    const labels: Record<string, string> = {};
    let name: string | undefined;
    let first = true;
    for (;;) {
      if (!this.#openMetrics) this.blanks();
      if (this.peek() === '}') {
        this.#at += 1;
        return { labels, name };
      }
      if (!first) {
        if (this.peek() !== ',') this.fail('expected , or } in the label set');
        this.#at += 1;
        if (!this.#openMetrics) this.blanks();
        if (this.peek() === '}') {
          if (this.#openMetrics) this.fail('a label set ends without a trailing comma in OpenMetrics');
          this.#at += 1;
          return { labels, name };
        }
      }
      first = false;
      const start = this.#at;
      const label = this.labelName();
      if (!this.#openMetrics) this.blanks();
      if (this.peek() !== '=' && this.#line[start] === '"' && name === undefined) {
        name = label;
        continue;
      }
      if (this.peek() !== '=') this.fail(`expected = after the label name ${label}`);
      this.#at += 1;
      if (!this.#openMetrics) this.blanks();
      const value = this.quoted(`value of label ${label}`);
      if (Object.hasOwn(labels, label)) this.fail(`label ${label} appears twice`);
      labels[label] = value;
    }
  }

  /** A sample value. */
  value(what = 'value'): number {
    const text = this.word();
    if (text === '') this.fail(`expected a ${what}`);
    const value = parseNumber(text);
    if (value === undefined) {
      this.#at -= text.length;
      this.fail(`${what} ${JSON.stringify(text)} is not a number`);
    }
    return value;
  }

  /** A timestamp, in milliseconds: OpenMetrics writes seconds, the text format milliseconds. */
  timestamp(): number {
    const text = this.word();
    const ok = this.#openMetrics ? REAL.test(text) : INTEGER.test(text);
    if (!ok) {
      this.#at -= text.length;
      this.fail(
        `timestamp ${JSON.stringify(text)} is not ${this.#openMetrics ? 'a number of seconds' : 'an integer of milliseconds'}`,
      );
    }
    return this.#openMetrics ? Math.round(Number(text) * 1e6) / 1e3 : Number(text);
  }

  /** An exemplar after `# `: a label set, a value, an optional timestamp. */
  exemplar(): Exemplar {
    const { labels, name } = this.labels();
    if (name !== undefined) this.fail('an exemplar has no metric name');
    let length = 0;
    for (const [k, v] of Object.entries(labels)) length += codePoints(k) + codePoints(v);
    if (length > EXEMPLAR_LABELS_MAX)
      this.fail(
        `an exemplar's labels are ${String(length)} characters, more than ${String(EXEMPLAR_LABELS_MAX)}`,
      );
    if (!this.blanks()) this.fail('expected a space and the exemplar value');
    const value = this.value('exemplar value');
    let timestamp: number | undefined;
    if (this.blanks() && !this.done()) timestamp = this.timestamp();
    if (!this.done()) this.fail('unexpected text after the exemplar');
    return { labels, value, timestamp };
  }
}

/**
 * A sample line: `name{labels} value [timestamp] [# {exemplar labels} value [timestamp]]`,
 * the name either before the braces or quoted inside them.
 */
export function parseSampleLine(line: string, openMetrics: boolean): SampleLine {
  const r: LineReader = new LineReader(line, openMetrics);
  let name: string | undefined;
  if (r.peek() !== '{') name = r.metricName();
  let labels: Record<string, string> = {};
  if (r.peek() === '{') {
    const set = r.labels();
    labels = set.labels;
    if (set.name !== undefined) {
      if (name !== undefined) r.fail('the metric name is given twice');
      name = set.name;
    }
  }
  if (name === undefined) r.fail('a sample needs a metric name');
  if (!r.blanks()) r.fail(`expected a space and a value after ${name}`);
  const value = r.value();
  let timestamp: number | undefined;
  let exemplar: Exemplar | undefined;
  if (r.blanks() && !r.done()) {
    if (r.peek() !== '#') timestamp = r.timestamp();
    if (r.blanks() && !r.done()) {
      if (r.peek() !== '#') r.fail('expected # and an exemplar, or the end of the line');
    }
    if (r.peek() === '#') {
      r.word();
      if (!r.blanks()) r.fail('expected a space after # of the exemplar');
      exemplar = r.exemplar();
    }
  }
  if (!r.done()) r.fail(`unexpected text after the value of ${name}`);
  return { name, labels, value, timestamp, exemplar };
}
