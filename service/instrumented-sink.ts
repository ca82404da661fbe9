import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentTelemetry, MetricSink } from '../kit/component.ts';
import { toError } from '../kit/errors.ts';
import { countPoints } from '../kit/metrics-data.ts';

/**
 * Wraps a processor's or exporter's `export` to count points received, exported and failed
 * in the component's telemetry, and to turn a thrown error (a contract breach) into a
 * failed result instead of a crash.
 */
export function instrumentSink(sink: MetricSink, telemetry: ComponentTelemetry): MetricSink {
  return {
    export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      const points = countPoints(batch);
      telemetry.received(points);
      let called = false;
      const once = (result: ExportResult): void => {
        if (called) return;
        called = true;
        if (result.code === ExportResultCode.SUCCESS) telemetry.exported(points);
        else telemetry.failed(points);
        resultCallback(result);
      };
      try {
        sink.export(batch, once);
      } catch (error) {
        once({ code: ExportResultCode.FAILED, error: toError(error) });
      }
    },
    forceFlush: () => sink.forceFlush(),
    shutdown: () => sink.shutdown(),
  };
}
