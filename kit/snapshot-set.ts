import type { Attributes, HrTime, ValueType } from '@opentelemetry/api';
import type { MetricMetadata } from './metadata.ts';
import { SnapshotProducer, valueTypeOfUnit } from './snapshot-producer.ts';

/**
 * What a scraper's observing code records into: whether a metric is switched on, and one
 * value of one series. Shared code that observes for several receivers (the libvirt domain
 * statistics the kubevirt receiver publishes too) takes this, not a concrete set.
 */
export interface MetricObserver {
  /** Whether `name` is switched on (observing a switched-off metric is a no-op). */
  has(name: string): boolean;
  /** Records one value; `undefined` and non-finite values are dropped. */
  observe(name: string, value: number | undefined, attributes?: Attributes): void;
}

/** How a {@link SnapshotSet} types and dates its metrics. */
export interface SnapshotSetOptions {
  /**
   * The value type of each metric; by default {@link valueTypeOfUnit}: bytes and sums of
   * things are integers (fractions truncated), everything else doubles, as the OpenTelemetry
   * Collector's receivers send them.
   */
  readonly valueType?: (metric: MetricMetadata) => ValueType;
  /**
   * When sums seen for the first time began counting (the boot time, for counters since
   * boot), read at each collection. Without it (or while it is undefined) a new sum starts
   * at the collection that first sees it.
   */
  readonly origin?: () => HrTime | undefined;
}

/**
 * A receiver's metrics built from its catalogue, observed together by one callback that reads
 * the scraper's snapshot at collection time, and published through a {@link SnapshotProducer}
 * (the one way a scraper publishes: see ARCHITECTURE.md). The scraper hands
 * {@link producer} to the scrape runner as its `metricProducer`.
 *
 * For scrapers whose series are few enough that looking each one up by its attribute values
 * costs nothing worth holding series for (BMC sensors, libvirt domains, KubeVirt VMs); the
 * ones with tens of thousands of series per scrape use the producer's held series directly.
 *
 * The points are those of cumulative observable instruments: the value observed in this
 * collection. A series observed in the previous collection keeps its start time; one that was
 * not (new, or back after a collection without it) starts at the origin when it is a sum and
 * there is one, else at this collection; a counter that goes down starts again at this
 * collection. A series not observed in a collection is not reported, and forgotten.
 */
export class SnapshotSet implements MetricObserver {
  /** The scraper's `metricProducer`. */
  readonly producer: SnapshotProducer;
  /** Observations count only inside the callback (while the producer collects). */
  #collecting = false;

  /**
   * `scopeName` is the instrumentation scope of the points (`inframeter/receiver/<type>`);
   * only the metrics of `metrics` for which `enabled` holds are published; `observeAll`
   * records this collection's values through the set it is given.
   */
  constructor(
    scopeName: string,
    metrics: readonly MetricMetadata[],
    enabled: (metric: MetricMetadata) => boolean,
    observeAll: (set: SnapshotSet) => void,
    options: SnapshotSetOptions = {},
  ) {
    this.producer = new SnapshotProducer(
      scopeName,
      metrics,
      enabled,
      () => {
        this.#collecting = true;
        try {
          observeAll(this);
        } finally {
          this.#collecting = false;
        }
      },
      options.valueType ?? valueTypeOfUnit,
      options.origin,
    );
  }

  has(name: string): boolean {
    return this.producer.has(name);
  }

  /** Records one value; only inside the callback (elsewhere it is dropped). */
  observe(name: string, value: number | undefined, attributes?: Attributes): void {
    if (this.#collecting) this.producer.observe(name, value, attributes);
  }
}
