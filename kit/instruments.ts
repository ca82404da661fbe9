import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { MetricMetadata } from './metadata.ts';

/**
 * Observable instruments created from a receiver's catalogue, observed together in one
 * batch callback that reads the scraper's snapshot.
 */
export class ObservableSet {
  readonly #instruments = new Map<string, Observable>();
  #result: BatchObservableResult | undefined;

  constructor(
    meter: Meter,
    metrics: readonly MetricMetadata[],
    enabled: (metric: MetricMetadata) => boolean,
  ) {
    for (const m of metrics) {
      if (!enabled(m)) continue;
      const options = { unit: m.unit, description: m.description, valueType: ValueType.DOUBLE };
      let instrument: Observable;
      if (m.instrument === 'counter') instrument = meter.createObservableCounter(m.name, options);
      else if (m.instrument === 'updowncounter')
        instrument = meter.createObservableUpDownCounter(m.name, options);
      else if (m.instrument === 'gauge') instrument = meter.createObservableGauge(m.name, options);
      else throw new Error(`${m.name}: histograms cannot be observed`);
      this.#instruments.set(m.name, instrument);
    }
  }

  /** Registers `observeAll` as the one batch callback of every instrument. */
  register(meter: Meter, observeAll: (set: ObservableSet) => void): void {
    meter.addBatchObservableCallback(
      (result) => {
        this.#result = result;
        try {
          observeAll(this);
        } finally {
          this.#result = undefined;
        }
      },
      [...this.#instruments.values()],
    );
  }

  /** Whether `name` is switched on (observing a switched-off metric is a no-op). */
  has(name: string): boolean {
    return this.#instruments.has(name);
  }

  /** Records one value; only valid inside the batch callback. */
  observe(name: string, value: number | undefined, attributes?: Attributes): void {
    const instrument = this.#instruments.get(name);
    if (
      instrument === undefined ||
      this.#result === undefined ||
      value === undefined ||
      !Number.isFinite(value)
    )
      return;
    this.#result.observe(instrument, value, attributes);
  }
}
