import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';

/** A reader collected on demand, to read a component's own counters in a test. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {
    // Nothing buffered: the test collects when it asks.
  }
  protected override async onShutdown(): Promise<void> {
    // Nothing to release.
  }
}

/** A meter whose counters a test can read back. */
export interface ReadableMeter {
  readonly meter: Meter;
  /** The sum of a metric's points whose attributes include `attributes`. */
  value(name: string, attributes?: Attributes): Promise<number>;
}

export function createReadableMeter(): ReadableMeter {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('test'),
    async value(name, attributes = {}) {
      const { resourceMetrics } = await reader.collect();
      let total = 0;
      for (const scope of resourceMetrics.scopeMetrics)
        for (const metric of scope.metrics)
          if (metric.descriptor.name === name)
            for (const point of metric.dataPoints as DataPoint<number>[])
              if (Object.entries(attributes).every(([k, v]) => point.attributes[k] === v))
                total += point.value;
      return total;
    },
  };
}
