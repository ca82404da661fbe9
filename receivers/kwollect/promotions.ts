import type { Promotion } from './config.ts';

interface Compiled {
  readonly promotion: Promotion;
  readonly pattern: RegExp;
}

/** `metric_id` as a regular expression of whole metric names. */
function compile(promotion: Promotion): Compiled {
  return { promotion, pattern: new RegExp(`^(?:${promotion.metric_id})$`) };
}

const keyOf = (p: Promotion): string => JSON.stringify([p.device_id, p.metric_id]);

/**
 * Which optional metrics are on: kwollect's `promoted_metrics` rows, as last read from the
 * database, plus those switched on through the control API (or the configuration). A
 * metric of a device is on when a row names the device (or its `_device_alias`) and its
 * `metric_id`, a regular expression, matches the whole metric name.
 */
export class Promotions {
  #database: Compiled[] = [];
  readonly #api = new Map<string, Compiled>();

  /**
   * Replaces the database's rows; returns those whose `metric_id` is not a regular
   * expression (left out).
   */
  setDatabase(rows: readonly Promotion[]): Promotion[] {
    const bad: Promotion[] = [];
    this.#database = rows.flatMap((row) => {
      try {
        return [compile(row)];
      } catch {
        bad.push(row);
        return [];
      }
    });
    return bad;
  }

  /** Switches on; throws a SyntaxError when `metric_id` is not a regular expression. */
  add(promotion: Promotion): void {
    this.#api.set(keyOf(promotion), compile(promotion));
  }

  /** Switches off what `add` switched on; false when it was not on. */
  remove(promotion: Promotion): boolean {
    return this.#api.delete(keyOf(promotion));
  }

  /** The rows in force, from each source. */
  list(): { database: Promotion[]; api: Promotion[] } {
    return {
      database: this.#database.map((c) => c.promotion),
      api: [...this.#api.values()].map((c) => c.promotion),
    };
  }

  /** Whether a row names one of `devices`, whatever its `metric_id`. */
  namesDevice(devices: readonly string[]): boolean {
    const hit = (c: Compiled): boolean => devices.includes(c.promotion.device_id);
    return this.#database.some(hit) || [...this.#api.values()].some(hit);
  }

  /** Whether a row names one of `devices` with a `metric_id` matching one of `names`. */
  matches(devices: readonly string[], names: readonly string[]): boolean {
    const hit = (c: Compiled): boolean =>
      devices.includes(c.promotion.device_id) && names.some((n) => c.pattern.test(n));
    return this.#database.some(hit) || [...this.#api.values()].some(hit);
  }
}
