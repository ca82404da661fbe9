import { InframeterError } from '../errors.ts';
import type { RetryConfig } from './config.ts';

/**
 * Failure classification and backoff for push exporters (the OpenTelemetry Collector's
 * `retry_on_failure`, and the OTLP specification's rules on which failures may be retried).
 */

/** A failed send, saying whether trying again may succeed and when the server asked us to. */
export class ExportFailure extends InframeterError {
  /** True for throttling and transient failures (unavailable, timeout, connection refused). */
  readonly retryable: boolean;
  /** The delay the server asked for (gRPC RetryInfo, HTTP Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options: { retryable: boolean; retryAfterMs?: number | undefined; cause?: unknown },
  ) {
    super('ERR_EXPORT', message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** HTTP status codes after which a request may be retried (OTLP/HTTP specification). */
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from `now`;
 * undefined when absent or malformed.
 */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** An HTTP response status → an ExportFailure (retryable only for 429, 502, 503 and 504). */
export function httpFailure(status: number, detail: string, retryAfterHeader?: string): ExportFailure {
  const retryable = RETRYABLE_HTTP.has(status);
  return new ExportFailure(`HTTP ${status}${detail ? `: ${detail}` : ''}`, {
    retryable,
    retryAfterMs: retryable ? parseRetryAfter(retryAfterHeader) : undefined,
  });
}

/**
 * The wait before retry number `attempt` (0 for the first retry): initial × multiplier^attempt,
 * capped at max_interval, then drawn uniformly in ±randomization_factor around it. `random`
 * returns a number in [0, 1).
 */
export function backoffDelay(
  config: RetryConfig,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(config.max_interval, config.initial_interval * config.multiplier ** attempt);
  const spread = base * config.randomization_factor;
  return Math.max(0, base - spread + random() * 2 * spread);
}
