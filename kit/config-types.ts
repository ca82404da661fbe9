import { z } from 'zod';

/**
 * Reusable zod types for component configs: durations, secrets, listen addresses.
 * Every component's schema is built from these so that the same YAML spelling means the
 * same thing everywhere.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "250ms", "10s", "1m30s", "2h" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let total = 0;
  let rest = trimmed;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (match === null) return undefined;
    const [whole, amount, unit] = match as unknown as [string, string, string];
    total += Number(amount) * (DURATION_UNITS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  return Number.isFinite(total) ? total : undefined;
}

/**
 * The longest duration accepted, in milliseconds: 2^31 − 1, about 24.8 days, the longest a
 * Node.js timer can wait (a longer one fires after 1 ms, and a receiver would scrape in a
 * tight loop).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Why `value` is not a duration, or undefined when it is one (in milliseconds). */
export function durationProblem(value: unknown): string | undefined {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms < 0)
    return `expected a duration such as "10s", "500ms" or "1m", got ${JSON.stringify(value)}`;
  if (ms > MAX_DURATION_MS)
    return `must be at most ${String(MAX_DURATION_MS)} ms (about 24.8 days, the longest a timer can wait), got ${JSON.stringify(value)}`;
  return undefined;
}

/**
 * A duration: a string with units ("10s", "500ms", "1m") or a number of milliseconds, at
 * most {@link MAX_DURATION_MS}. Parses to milliseconds (a number).
 */
export function duration(): z.ZodType<number, string | number> {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const problem = durationProblem(value);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return typeof value === 'number' ? value : (parseDuration(value) ?? 0);
  });
}

/** A string that must never be printed: logging or serialising it gives `[REDACTED]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself, for the one place that needs it (an auth header, an env var). */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[REDACTED]';
  }
  toJSON(): string {
    return '[REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[REDACTED]';
  }
}

/** A secret string (password, community, token), wrapped in {@link Secret}. */
export function secret(): z.ZodType<Secret, string> {
  return z
    .string()
    .min(1, 'must not be empty')
    .transform((value) => new Secret(value));
}

/** A listen or connect address `host:port` (IPv6 as `[::1]:port`); port 0 picks a free port. */
export interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port`; undefined when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** `host:port` to listen on or connect to. */
export function hostPort(): z.ZodType<HostPort, string> {
  return z.string().transform((value, ctx) => {
    const parsed = parseHostPort(value);
    if (parsed === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected host:port such as "127.0.0.1:9464", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return parsed;
  });
}

/** Formats a HostPort back to `host:port` (brackets around IPv6). */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A regular expression given as a string, compiled and fully anchored (as Prometheus does). */
export function anchoredRegex(): z.ZodType<RegExp, string> {
  return z.string().transform((value, ctx) => {
    try {
      return new RegExp(`^(?:${value})$`);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid regular expression ${JSON.stringify(value)}: ${(error as Error).message}`,
      });
      return z.NEVER;
    }
  });
}

/** Options every scraping receiver takes, spread into its schema. */
export const scraperOptions = {
  /** How often the sources are read. */
  collection_interval: duration().default(10_000),
  /** Delay before the first scrape. */
  initial_delay: duration().default(0),
  /** Time limit of one scrape; defaults to the collection interval. */
  timeout: duration().optional(),
};
