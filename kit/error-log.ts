import type { Logger } from './logger.ts';
import { toError } from './errors.ts';

/** How often a repeating error is summed up at warn with its count. */
export const REPEAT_SUMMARY_MS = 60_000;

/**
 * Logs repeated errors once: at warn when an error first appears under a key, at debug for
 * each repetition (with a warn line summing the repetitions up at most once a minute), and
 * at info when that key recovers, with the count. A collector that scrapes every few
 * seconds, or reads 50 frames a second, must not write the same line every time.
 *
 * An error is "the same" when its message is; or, when the caller names a `kind` (bad input
 * whose every instance reads differently: a garbage line, a malformed point), when its kind
 * is: each kind of a key is followed on its own (a stream alternating two kinds of bad
 * lines logs two lines, not one per line). Errors of a kind are logged without a stack:
 * they are the input's fault, not the code's.
 */
export class ErrorLog {
  readonly #logger: Logger;
  readonly #now: () => number;
  /** key → the error currently active under that key. */
  readonly #active = new Map<
    string,
    { identity: string; kind: string | undefined; count: number; summarized: number; since: number }
  >();

  constructor(logger: Logger, options: { now?: () => number } = {}) {
    this.#logger = logger;
    this.#now = options.now ?? Date.now;
  }

  /** Records an error under `key` (a source: file path, target, device), of `kind` if given. */
  report(key: string, error: unknown, kind?: string): void {
    const err = toError(error);
    const identity = kind === undefined ? `message:${err.message}` : `kind:${kind}`;
    const slot = kind === undefined ? key : `${key}\u0000${kind}`;
    const current = this.#active.get(slot);
    const now = this.#now();
    if (current?.identity === identity) {
      current.count += 1;
      this.#logger.debug(
        { key, ...(kind === undefined ? { err } : { kind, error: err.message }), repeated: current.count },
        'error repeated',
      );
      if (now - current.since >= REPEAT_SUMMARY_MS) {
        this.#logger.warn(
          { key, ...(kind === undefined ? {} : { kind }), repeated: current.count - current.summarized },
          `${err.message} (${String(current.count - current.summarized)} times in the last ${String(Math.round((now - current.since) / 1000))} s)`,
        );
        current.summarized = current.count;
        current.since = now;
      }
      return;
    }
    this.#active.set(slot, { identity, kind, count: 1, summarized: 0, since: now });
    if (kind === undefined) this.#logger.warn({ key, err }, err.message);
    else this.#logger.warn({ key, kind, error: err.message }, err.message);
  }

  /** Marks `key` as healthy again (every kind of it); logs once if it had an active error, with how many there were. */
  recovered(key: string): void {
    if (this.#active.size === 0) return;
    let after = 0;
    for (const [slot, current] of this.#active) {
      if (slot !== key && !slot.startsWith(`${key}\u0000`)) continue;
      this.#active.delete(slot);
      after += current.count;
    }
    if (after > 0) this.#logger.info({ key, after }, 'recovered');
  }

  /** Keys that currently have an error. */
  activeKeys(): string[] {
    return [...new Set([...this.#active.keys()].map((slot) => slot.split('\u0000')[0] ?? slot))];
  }
}
