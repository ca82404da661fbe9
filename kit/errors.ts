/**
 * The error classes of inframeter. Each has a stable `code` that callers and tests match on,
 * never the message text.
 */

/** Base class: every error inframeter raises on purpose carries a stable `code`. */
export class InframeterError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad configuration: one line per problem, each starting with its YAML path. */
export class ConfigError extends InframeterError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: ErrorOptions) {
    super('ERR_CONFIG', `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`, options);
    this.problems = problems;
  }
}

/** Text that does not have the shape its source defines, located by `source:line`. */
export class ParseError extends InframeterError {
  readonly source: string;
  readonly line: number;
  constructor(source: string, line: number, detail: string, options?: ErrorOptions) {
    super('ERR_PARSE', `${source}:${line}: ${detail}`, options);
    this.source = source;
    this.line = line;
  }
}

/** A scrape in which some items failed; `failed` says how many, `cause` the first error. */
export class ScrapeError extends InframeterError {
  readonly failed: number;
  constructor(failed: number, message: string, options?: ErrorOptions) {
    super('ERR_SCRAPE', message, options);
    this.failed = failed;
  }
}

/** An operation that did not finish within its time limit (in milliseconds). */
export class TimeoutError extends InframeterError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, options?: ErrorOptions) {
    super('ERR_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, options);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An OTLP request that cannot be decoded (protobuf or OTLP/JSON): `field` says where (the
 * message and field being read, `Metric.name`, or the JSON path), `offset` the byte offset in
 * the protobuf input (-1 for JSON), and the message what was wrong. A receiver answers it with
 * 400 / INVALID_ARGUMENT and this text.
 */
export class OtlpDecodeError extends InframeterError {
  readonly field: string;
  readonly offset: number;
  constructor(field: string, offset: number, detail: string, options?: ErrorOptions) {
    super('ERR_OTLP_DECODE', `${field}${offset >= 0 ? ` at byte ${offset}` : ''}: ${detail}`, options);
    this.field = field;
    this.offset = offset;
  }
}

/** Narrows an unknown thrown value to an Error, wrapping anything else. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The `code` of a Node.js system error (`ENOENT`, `EACCES`, …), or undefined. */
export function errorCode(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'code' in value) {
    const code = value.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
