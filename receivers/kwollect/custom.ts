import type { Attributes, HrTime } from '@opentelemetry/api';

/** The Prometheus family that carries kwollect's custom metrics. */
export const CUSTOM_FAMILY = 'kwollect_custom';

/** What a `kwollect_custom` sample stands for. */
export interface CustomSample {
  /** The metric it is (`_metric_id`). */
  readonly name: string;
  /** Its other labels. */
  readonly attributes: Attributes;
  /** Its time (`_timestamp`, Unix seconds with a fraction), when given. */
  readonly time: HrTime | undefined;
}

/**
 * Reads a `kwollect_custom{_metric_id="my_metric", _timestamp="1606389005.1234"} 42`
 * sample's labels, as kwollect's document defines them: the metric is `_metric_id`, taken
 * at `_timestamp` when it is given. Undefined without `_metric_id`; a `_timestamp` that
 * is not a number is an error.
 */
export function parseCustomLabels(labels: Attributes): CustomSample | undefined {
  const name = labels._metric_id;
  if (typeof name !== 'string' || name === '') return undefined;
  const attributes: Attributes = {};
  for (const [k, v] of Object.entries(labels))
    if (k !== '_metric_id' && k !== '_timestamp') attributes[k] = v;
  const stamp = labels._timestamp;
  if (stamp === undefined || stamp === '') return { name, attributes, time: undefined };
  const seconds = Number(stamp);
  if (typeof stamp !== 'string' || !Number.isFinite(seconds) || seconds < 0)
    throw new Error(`kwollect_custom ${name}: _timestamp ${JSON.stringify(stamp)} is not Unix seconds`);
  const decimal = /^(\d+)(?:\.(\d*))?$/.exec(stamp.trim());
  if (decimal === null) {
    const whole = Math.floor(seconds);
    return { name, attributes, time: [whole, Math.round((seconds - whole) * 1e9)] };
  }
  // Digits kept as written (no float rounding): 1606389005.1234 is 1606389005 s and 123,400,000 ns.
  const nanos = Number(`${decimal[2] ?? ''}000000000`.slice(0, 9));
  return { name, attributes, time: [Number(decimal[1]), nanos] };
}
