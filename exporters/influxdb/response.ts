import { ExportFailure, parseRetryAfter } from '../../kit/delivery/retry.ts';

/**
 * What an InfluxDB write answer means for the batch. 2xx: written. A 1.x `partial write`
 * (400 whose message ends `dropped=N`): the other lines were written, N were refused (a
 * field type conflict, a point outside the retention policy). 429 and 5xx: the server is
 * overloaded or unavailable, try again later. Any other 4xx (a line the server cannot
 * parse, bad credentials, an unknown database, a body too large): sending the same bytes
 * again cannot succeed, so the batch is dropped and counted with the reason.
 */
export type WriteOutcome =
  | { readonly kind: 'written' }
  | {
      readonly kind: 'partial';
      readonly droppedLines: number;
      readonly reason: RejectReason;
      readonly message: string;
    }
  | { readonly kind: 'rejected'; readonly reason: RejectReason; readonly message: string }
  | { readonly kind: 'retry'; readonly failure: ExportFailure };

/** Why a batch was refused, as counted in `inframeter.influxdb.points.rejected{reason}`. */
export type RejectReason =
  | 'field_type_conflict'
  | 'beyond_retention'
  | 'partial_write'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'too_large'
  | 'client_error';

/** The message of an error body: 1.x `{"error": …}`, 2.x `{"code": …, "message": …}`, or the text. */
export function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { error, message } = parsed as { error?: unknown; message?: unknown };
      if (typeof error === 'string') return error;
      if (typeof message === 'string') return message;
    }
  } catch {
    // Not JSON: the text itself (VictoriaMetrics answers in plain text).
  }
  return body.slice(0, 512).trim();
}

function rejectReason(status: number, message: string): RejectReason {
  if (/field type conflict/i.test(message)) return 'field_type_conflict';
  switch (status) {
    case 400:
    case 422:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 413:
      return 'too_large';
    default:
      return 'client_error';
  }
}

/** Classifies a write answer by its status, body and `Retry-After` header. */
export function classifyWrite(status: number, body: string, retryAfter?: string): WriteOutcome {
  if (status >= 200 && status < 300) return { kind: 'written' };
  const message = errorMessage(body);
  if (status === 429 || status >= 500) {
    return {
      kind: 'retry',
      failure: new ExportFailure(`HTTP ${status}${message === '' ? '' : `: ${message}`}`, {
        retryable: true,
        retryAfterMs: parseRetryAfter(retryAfter),
      }),
    };
  }
  const partial = /^partial write\b.*\bdropped=(\d+)\s*$/s.exec(message);
  if (status === 400 && partial !== null) {
    // One reason per answer: InfluxDB names the first cause (a type conflict, points older
    // than the retention policy keeps) and counts every line it dropped.
    const reason = /field type conflict/i.test(message)
      ? 'field_type_conflict'
      : /beyond retention/i.test(message)
        ? 'beyond_retention'
        : 'partial_write';
    return { kind: 'partial', droppedLines: Number(partial[1]), reason, message };
  }
  return { kind: 'rejected', reason: rejectReason(status, message), message: `HTTP ${status}: ${message}` };
}
