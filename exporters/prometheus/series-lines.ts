import type { ExpositionFormat, ExpositionOptions, ExpositionPlan } from '../../kit/prometheus/exposition.ts';
import {
  ExpositionCache,
  planExposition,
  renderExposition,
  renderPlanned,
} from '../../kit/prometheus/exposition.ts';
import type { SeriesHolder, SeriesStore } from './store.ts';

/** A plan and the store's series holding each of its samples. */
interface Planned {
  readonly plan: ExpositionPlan;
  readonly holders: readonly SeriesHolder[];
}

/**
 * Renders a store's exposition, keeping between scrapes everything but the values: the
 * metadata lines and each series' `name{labels} ` text, built once while the store's
 * {@link SeriesStore.shape} stays the same (series neither come nor go nor change their
 * descriptor or attributes), so that a scrape writes only values instead of rebuilding the
 * snapshot, its families and their maps. Justified by `node bench/agent.bench.ts --only
 * scrape200,scrape1000` (docs/performance.md). What a plan cannot hold (histograms,
 * summaries, an exposition with problems to report) is rendered in full every time; both
 * ways give the same bytes.
 */
export class SeriesLineCache {
  readonly #store: SeriesStore;
  readonly #options: ExpositionOptions;
  readonly #cache = new ExpositionCache();
  /** Plans by format, for one shape of the store; null when rendered in full. */
  readonly #plans = new Map<ExpositionFormat, Planned | null>();
  #shape = -1;

  constructor(store: SeriesStore, options: ExpositionOptions) {
    this.#store = store;
    this.#options = options;
  }

  render(format: ExpositionFormat): string {
    this.#store.sweep();
    if (this.#store.shape !== this.#shape) {
      this.#plans.clear();
      this.#shape = this.#store.shape;
    }
    let planned = this.#plans.get(format);
    if (planned === undefined) {
      planned = this.#plan(format);
      this.#plans.set(format, planned);
    }
    const text = planned === null ? undefined : renderPlanned(planned.plan, planned.holders);
    if (text !== undefined) return text;
    this.#plans.set(format, null);
    return renderExposition(this.#store.snapshot(), { ...this.#options, format }, this.#cache);
  }

  /** Whether the last rendering in `format` wrote only values (for tests). */
  isPlanned(format: ExpositionFormat): boolean {
    return (this.#plans.get(format) ?? null) !== null;
  }

  #plan(format: ExpositionFormat): Planned | null {
    const plan = planExposition(this.#store.snapshot(), { ...this.#options, format }, this.#cache);
    if (plan === undefined) return null;
    const byPoint = this.#store.holders();
    const holders: SeriesHolder[] = [];
    for (const sample of plan.samples) {
      const holder = byPoint.get(sample.point);
      if (holder === undefined) return null;
      holders.push(holder);
    }
    return { plan, holders };
  }
}
