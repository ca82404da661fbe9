import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricSink } from '../kit/component.ts';

/**
 * A sink that hands every batch to several sinks (a receiver in several pipelines, a
 * pipeline with several exporters). Its callback fires once, after every sink answered:
 * success only if all succeeded. Sinks must not mutate the batch they are given.
 */
export function createFanout(sinks: readonly MetricSink[]): MetricSink {
  if (sinks.length === 1 && sinks[0] !== undefined) return sinks[0];
  return {
    export(batch: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      let pending = sinks.length;
      const errors: Error[] = [];
      const done = (result: ExportResult): void => {
        if (result.code !== ExportResultCode.SUCCESS) errors.push(result.error ?? new Error('export failed'));
        pending -= 1;
        if (pending > 0) return;
        if (errors.length === 0) resultCallback({ code: ExportResultCode.SUCCESS });
        else
          resultCallback({
            code: ExportResultCode.FAILED,
            error:
              errors[0] !== undefined && errors.length === 1
                ? errors[0]
                : new AggregateError(errors, errors.map((e) => e.message).join('; ')),
          });
      };
      if (pending === 0) {
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
      for (const sink of sinks) {
        try {
          sink.export(batch, done);
        } catch (error) {
          done({
            code: ExportResultCode.FAILED,
            error: error instanceof Error ? error : new Error(String(error)),
          });
        }
      }
    },
    async forceFlush(): Promise<void> {
      await Promise.all(sinks.map((s) => s.forceFlush()));
    },
    shutdown(): Promise<void> {
      // The service shuts every component down itself, in order; a fan-out owns nothing.
      return Promise.resolve();
    },
  };
}
