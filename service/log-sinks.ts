import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { LogSink, LogTelemetry } from '../kit/component.ts';
import { toError } from '../kit/errors.ts';

/**
 * The sinks of the logs signal, the counterparts of `fanout.ts` and `instrumented-sink.ts`
 * for lists of `ReadableLogRecord`.
 */

/**
 * Hands every list of records to several sinks (a receiver in several logs pipelines, a
 * pipeline with several exporters). The callback fires once, after every sink answered:
 * success only if all succeeded. With no sink, every export succeeds at once (a standalone
 * receiver in no logs pipeline).
 */
export function createLogFanout(sinks: readonly LogSink[]): LogSink {
  if (sinks.length === 1 && sinks[0] !== undefined) return sinks[0];
  return {
    export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
      let pending = sinks.length;
      if (pending === 0) {
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
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
              errors.length === 1 && errors[0] !== undefined
                ? errors[0]
                : new AggregateError(errors, errors.map((e) => e.message).join('; ')),
          });
      };
      for (const sink of sinks) {
        try {
          sink.export(records, done);
        } catch (error) {
          done({ code: ExportResultCode.FAILED, error: toError(error) });
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

/**
 * Wraps a log sink to count the records received, passed on and failed in a component's
 * telemetry, and turns a thrown error (a contract breach) into a failed result.
 */
export function instrumentLogSink(sink: LogSink, telemetry: LogTelemetry): LogSink {
  return {
    export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
      const count = records.length;
      telemetry.received(count);
      let called = false;
      const once = (result: ExportResult): void => {
        if (called) return;
        called = true;
        if (result.code === ExportResultCode.SUCCESS) telemetry.exported(count);
        else telemetry.failed(count);
        resultCallback(result);
      };
      try {
        sink.export(records, once);
      } catch (error) {
        once({ code: ExportResultCode.FAILED, error: toError(error) });
      }
    },
    forceFlush: () => sink.forceFlush(),
    shutdown: () => sink.shutdown(),
  };
}
