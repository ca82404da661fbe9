import { SeverityNumber } from '@opentelemetry/api';
/**
 * Lines of a container log as the Kubernetes log API returns them with `timestamps=true`
 * (`GET /api/v1/namespaces/NS/pods/POD/log`): each line is the kubelet's RFC 3339 timestamp
 * with nanoseconds (Go's `RFC3339Nano`, trailing zeros of the fraction dropped), one space,
 * then the line the container wrote. KubeVirt's components (virt-launcher, virt-handler) write
 * JSON lines with `component`, `level`, `msg`, `pos`, `timestamp` and, for messages about one
 * VMI, `kind`, `name`, `namespace` and `uid`; libvirt's and QEMU's own messages are relayed by
 * virt-launcher with `subcomponent`. Other lines (klog warnings, a shell's output) are plain text.
 */

/** One line of a container log. */
export interface LogLine {
  /** The kubelet's timestamp as received (RFC 3339). */
  readonly timestamp: string;
  /** The same instant in nanoseconds since the epoch (fractions of any length compared exactly). */
  readonly timeNs: bigint;
  /** The line the container wrote, without the timestamp and without the newline. */
  readonly text: string;
}

/** The fields of a KubeVirt JSON log line that a log record carries. */
export interface KubevirtEntry {
  /** `debug`, `info`, `warning`, `error`, `fatal` as KubeVirt writes them. */
  readonly level?: string;
  readonly msg?: string;
  readonly component?: string;
  readonly subcomponent?: string;
  readonly pos?: string;
  /** The component's own timestamp (RFC 3339, microseconds). */
  readonly timestamp?: string;
  readonly kind?: string;
  /** For messages about one object: its name, namespace and UID. */
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp in nanoseconds since the epoch; undefined when malformed. */
export function parseRfc3339Ns(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(ms)) return undefined;
  let offsetMin = 0;
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const nanos = BigInt((frac ?? '').padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(offsetMin) * 60_000n) * 1_000_000n + nanos;
}

/** Nanoseconds since the epoch → RFC 3339 with nine fraction digits, in UTC. */
export function formatRfc3339Ns(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const seconds = new Date(Number((ms / 1000n) * 1000n)).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${seconds}.${fraction}Z`;
}

/** Whole seconds below `ns`, as RFC 3339 (what `sinceTime` is sent as: never after the instant). */
export function formatSinceTime(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  return `${new Date(Number(seconds * 1000n)).toISOString().slice(0, 19)}Z`;
}

/** Where a log body could not be read. */
export interface LogParseResult {
  readonly lines: LogLine[];
  /** Lines without a valid timestamp prefix (kept out of the output; counted). */
  readonly malformed: number;
  /**
   * True when the body did not end with a newline: its last line may have been cut by
   * `limitBytes`, so it was left out (the next fetch, from the last timestamp, returns it whole).
   */
  readonly truncated: boolean;
}

/** Splits a log body fetched with `timestamps=true` into lines. */
export function parseTimestampedLog(body: string): LogParseResult {
  const lines: LogLine[] = [];
  let malformed = 0;
  const parts = body.split('\n');
  const truncated = parts.length > 0 && parts[parts.length - 1] !== '';
  // The last part is either empty (the body ended with a newline) or a possibly cut line.
  parts.pop();
  for (const raw of parts) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const space = line.indexOf(' ');
    const timestamp = space < 0 ? line : line.slice(0, space);
    const timeNs = parseRfc3339Ns(timestamp);
    if (timeNs === undefined) {
      if (line !== '') malformed += 1;
      continue;
    }
    lines.push({ timestamp, timeNs, text: space < 0 ? '' : line.slice(space + 1) });
  }
  return { lines, malformed, truncated };
}

const STRING_FIELDS = [
  'level',
  'msg',
  'component',
  'subcomponent',
  'pos',
  'timestamp',
  'kind',
  'name',
  'namespace',
  'uid',
] as const;

/** The KubeVirt fields of a JSON log line; undefined when the line is not a JSON object. */
export function parseKubevirtEntry(text: string): KubevirtEntry | undefined {
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const entry: Record<string, string> = {};
  for (const key of STRING_FIELDS) {
    const field = record[key];
    if (typeof field === 'string' && field !== '') entry[key] = field;
  }
  return entry;
}

/**
 * OpenTelemetry severity numbers (logs data model) of KubeVirt's levels: DEBUG 5, INFO 9,
 * WARN 13, ERROR 17, FATAL 21; undefined for an unknown level.
 */
export function severityOf(level: string | undefined): SeverityNumber | undefined {
  switch (level?.toLowerCase()) {
    case 'trace':
      return SeverityNumber.TRACE;
    case 'debug':
      return SeverityNumber.DEBUG;
    case 'info':
      return SeverityNumber.INFO;
    case 'warn':
    case 'warning':
      return SeverityNumber.WARN;
    case 'error':
      return SeverityNumber.ERROR;
    case 'fatal':
    case 'panic':
      return SeverityNumber.FATAL;
    default:
      return undefined;
  }
}
