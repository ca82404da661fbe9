import { TimeoutError } from './errors.ts';
import type { ScrapeSchedule } from './scrape-controller.ts';

/**
 * Deadlines of remote calls. A scraper that talks to several targets gives each target's
 * calls a deadline shorter than the scrape's own, so that the healthy targets' results are
 * collected and exported even when one target hangs: a hung peer costs only its own series.
 */

/** Share of the scrape's time limit a target's calls may take (the rest collects and exports). */
const TARGET_SHARE = 0.8;

/** The deadline of one target's calls within a scrape, in milliseconds. */
export function targetDeadline(schedule: Pick<ScrapeSchedule, 'collection_interval' | 'timeout'>): number {
  const scrape = schedule.timeout ?? schedule.collection_interval;
  return Math.max(1, Math.floor(scrape * TARGET_SHARE));
}

/**
 * `work`, or a {@link TimeoutError} once `ms` have passed; `onTimeout` then abandons the work
 * (closes its socket, kills its process) so that nothing of it lingers.
 */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TimeoutError(what, ms));
      onTimeout?.();
    }, ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * At most one call in flight per target: a call still running when the next is due (it is
 * past its deadline and being abandoned) makes the next one fail at once instead of
 * piling up sockets, threads or processes behind a peer that does not answer.
 */
export class InFlight {
  readonly #running = new Map<string, Promise<unknown>>();

  /** Whether a call for `key` is still running. */
  busy(key: string): boolean {
    return this.#running.has(key);
  }

  /** Runs `call` for `key`, or throws when the previous call for `key` has not ended. */
  run<T>(key: string, call: () => Promise<T>): Promise<T> {
    if (this.#running.has(key))
      return Promise.reject(new Error(`${key}: the previous call has not ended yet (past its deadline)`));
    const running = call();
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.#running.set(key, settled);
    void settled.then(() => {
      if (this.#running.get(key) === settled) this.#running.delete(key);
    });
    return running;
  }
}
