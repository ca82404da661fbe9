import type { Logger } from './logger.ts';
import { toError } from './errors.ts';

/**
 * Logs repeated errors once: at warn when an error first appears under a key, at debug for
 * each repetition, and at info when that key recovers. A collector that scrapes every few
 * seconds must not write the same line on every scrape.
 */
export class ErrorLog {
  readonly #logger: Logger;
  /** key → [message, repetitions] of the error currently active under that key. */
  readonly #active = new Map<string, { message: string; count: number }>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Records an error under `key` (a source: file path, target, device). */
  report(key: string, error: unknown): void {
    const err = toError(error);
    const current = this.#active.get(key);
    if (current?.message === err.message) {
      current.count += 1;
      this.#logger.debug({ key, err, repeated: current.count }, 'error repeated');
      return;
    }
    this.#active.set(key, { message: err.message, count: 1 });
    this.#logger.warn({ key, err }, err.message);
  }

  /** Marks `key` as healthy again; logs once if it had an active error. */
  recovered(key: string): void {
    const current = this.#active.get(key);
    if (current === undefined) return;
    this.#active.delete(key);
    this.#logger.info({ key, after: current.count }, 'recovered');
  }

  /** Keys that currently have an error. */
  activeKeys(): string[] {
    return [...this.#active.keys()];
  }
}
