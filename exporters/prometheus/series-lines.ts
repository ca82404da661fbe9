import type { ExpositionFormat, ExpositionOptions, ExpositionPlan } from '../../kit/prometheus/exposition.ts';
import {
  ExpositionCache,
  planExposition,
  renderExposition,
  renderPlanned,
} from '../../kit/prometheus/exposition.ts';
import { PlanBuffers, PlannedBytes } from './planned-bytes.ts';
import type { SeriesHolder, SeriesStore } from './store.ts';

/** A plan, the store's series holding each of its samples, and its byte rendering once asked for. */
interface Planned {
  readonly plan: ExpositionPlan;
  readonly holders: readonly SeriesHolder[];
  bytes?: PlannedBytes;
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
  /** The buffers of each format's byte rendering, handed from one plan to the next. */
  readonly #buffers = new Map<ExpositionFormat, PlanBuffers>();
  #shape = -1;

  constructor(store: SeriesStore, options: ExpositionOptions) {
    this.#store = store;
    this.#options = options;
  }

  render(format: ExpositionFormat): string {
    const planned = this.#planned(format);
    const text = planned === null ? undefined : renderPlanned(planned.plan, planned.holders);
    if (text !== undefined) return text;
    this.#plans.set(format, null);
    return this.#renderInFull(format);
  }

  /**
   * The same exposition as {@link render}, as UTF-8 bytes: what a scrape sends. A planned
   * rendering is a view of a buffer reused by the next call, so it must be consumed (copied,
   * compressed) before then.
   */
  renderBytes(format: ExpositionFormat): Uint8Array {
    const planned = this.#planned(format);
    if (planned !== null) {
      planned.bytes ??= new PlannedBytes(planned.plan, this.#planBuffers(format));
      const bytes = planned.bytes.render(planned.holders);
      if (bytes !== undefined) return bytes;
      this.#plans.set(format, null);
    }
    return Buffer.from(this.#renderInFull(format), 'utf8');
  }

  /** The plan for `format` over the store's current shape (swept first); null: rendered in full. */
  #planned(format: ExpositionFormat): Planned | null {
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
    return planned;
  }

  #planBuffers(format: ExpositionFormat): PlanBuffers {
    let buffers = this.#buffers.get(format);
    if (buffers === undefined) {
      buffers = new PlanBuffers();
      this.#buffers.set(format, buffers);
    }
    return buffers;
  }

  #renderInFull(format: ExpositionFormat): string {
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
    // Indexed: a for-of makes an iterator result per sample until the method is optimized.
    for (let i = 0; i < plan.samples.length; i += 1) {
      const sample = plan.samples[i];
      const holder = sample === undefined ? undefined : byPoint.get(sample.point);
      if (holder === undefined) return null;
      holders.push(holder);
    }
    return { plan, holders };
  }
}
