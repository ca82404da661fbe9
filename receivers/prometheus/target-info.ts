import type { Attributes } from '@opentelemetry/api';
import type { Family } from './parse/exposition.ts';

/**
 * A target's own `target_info` (OpenMetrics, "Supporting target metadata in both push-based
 * and pull-based systems"): the info family `target`, or in the text format, which has no info
 * type, a gauge or untyped `target_info`. The OpenTelemetry specification
 * (compatibility/prometheus_and_openmetrics.md, "Resource Attributes") makes its labels
 * attributes of the target's resource and drops the family, as the OpenTelemetry Collector's
 * prometheus receiver does. Pure.
 */

/** The sample name of target metadata. */
const TARGET_INFO = 'target_info';

/** Labels Prometheus attaches itself, which the resource already has as `service.*`. */
const EXCLUDED: ReadonlySet<string> = new Set(['job', 'instance']);

/** Whether a family is the target's metadata: it has samples, all named `target_info`. */
export function isTargetInfo(family: Family): boolean {
  return family.samples.length > 0 && family.samples.every((s) => s.name === TARGET_INFO);
}

/**
 * The resource attributes a `target_info` family gives: its labels, names and values as they
 * are, except `job` and `instance` (as the Collector leaves them out). Several samples add up;
 * a later one wins a label both have.
 */
export function targetInfoAttributes(family: Family): Attributes {
  const attributes: Attributes = {};
  for (const sample of family.samples)
    for (const [name, value] of Object.entries(sample.labels))
      if (!EXCLUDED.has(name)) attributes[name] = value;
  return attributes;
}
