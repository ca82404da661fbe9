import { InframeterError } from '../../kit/errors.ts';
import { ExportFailure } from '../../kit/delivery/retry.ts';

/** A problem of the store found by the exporter itself (a missing table or column). */
export class StoreError extends InframeterError {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super('ERR_POSTGRESQL', message);
    this.retryable = retryable;
  }
}

/**
 * SQLSTATE classes of errors that sending the same rows again cannot cure: data exceptions
 * (22: a value out of range, bad JSON), integrity violations (23), syntax errors and access
 * rules (42: an unknown column, a missing privilege), unsupported features (0A), function
 * and routine errors (2F, 39, P0). Everything else (connection exceptions 08, the server
 * shutting down 57, insufficient resources 53, lock and serialization conflicts 40 and 55,
 * authentication 28, an unknown database 3D, and socket errors without a SQLSTATE) may pass
 * later and is retried.
 */
const PERMANENT_CLASSES = new Set(['22', '23', '42', '0A', '2F', '39', 'P0']);

/** The SQLSTATE of a server error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for errors of the rows themselves (classes 22 and 23), which bisecting a batch isolates. */
export function isRowError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** An error from the driver or the server as a delivery failure, retryable or not. */
export function toExportFailure(error: unknown): ExportFailure {
  if (error instanceof ExportFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof StoreError)
    return new ExportFailure(message, { retryable: error.retryable, cause: error });
  const state = sqlState(error);
  const retryable = state === undefined || !PERMANENT_CLASSES.has(state.slice(0, 2));
  return new ExportFailure(state === undefined ? message : `${message} (SQLSTATE ${state})`, {
    retryable,
    cause: error,
  });
}
