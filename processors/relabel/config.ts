import { z } from 'zod';
import { anchoredRegex } from '../../kit/config-types.ts';

export const ACTIONS = [
  'replace',
  'keep',
  'drop',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'hashmod',
  'lowercase',
  'uppercase',
] as const;
export type RelabelAction = (typeof ACTIONS)[number];

/** One Prometheus `relabel_config`, with Prometheus's defaults. */
export const ruleSchema = z
  .strictObject({
    source_labels: z.array(z.string().min(1)).default([]),
    separator: z.string().default(';'),
    regex: anchoredRegex().prefault('(.*)'),
    target_label: z.string().min(1).optional(),
    replacement: z.string().default('$1'),
    modulus: z.number().int().positive().optional(),
    action: z.enum(ACTIONS).default('replace'),
  })
  .superRefine((rule, ctx) => {
    const needsTarget: RelabelAction[] = ['replace', 'hashmod', 'lowercase', 'uppercase'];
    if (needsTarget.includes(rule.action) && rule.target_label === undefined) {
      ctx.addIssue({ code: 'custom', path: ['target_label'], message: `required for action ${rule.action}` });
    }
    if (rule.action === 'hashmod' && rule.modulus === undefined) {
      ctx.addIssue({ code: 'custom', path: ['modulus'], message: 'required for action hashmod' });
    }
    const needsSource: RelabelAction[] = ['keep', 'drop', 'hashmod', 'lowercase', 'uppercase'];
    if (needsSource.includes(rule.action) && rule.source_labels.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['source_labels'],
        message: `required for action ${rule.action}`,
      });
    }
  });
export type RelabelRule = z.infer<typeof ruleSchema>;

/** Per-metric changes kwollect users know: rename, scale, static labels. */
export const metricRuleSchema = z.strictObject({
  /** Metric names this applies to (fully anchored regular expression). */
  match: anchoredRegex(),
  /** New name; `$1`… refer to groups of `match`. */
  rename: z.string().min(1).optional(),
  /** Multiplies every value (sums, gauges, histogram sums and bounds). */
  scale_factor: z.number().optional(),
  /** Attributes set on every point. */
  labels: z.record(z.string().min(1), z.string()).default({}),
});
export type MetricRule = z.infer<typeof metricRuleSchema>;

export const relabelConfigSchema = z.strictObject({
  /** Keep only metrics whose name matches one of these (all when empty). */
  include_metrics: z.array(anchoredRegex()).default([]),
  /** Drop metrics whose name matches one of these. */
  exclude_metrics: z.array(anchoredRegex()).default([]),
  /** Rename, scale and label metrics by name, in order; every matching rule applies. */
  metrics: z.array(metricRuleSchema).default([]),
  /**
   * Rules on each data point's labels: `__name__` (the metric name), the point's attributes
   * and, read-only, the resource's as `__resource_<key>`. Labels starting with `__` are
   * removed afterwards, as in Prometheus.
   */
  metric_relabel_configs: z.array(ruleSchema).default([]),
  /** Rules on the resource attributes of each batch; `drop`/`keep` drop the whole batch. */
  resource_relabel_configs: z.array(ruleSchema).default([]),
});
export type RelabelConfig = z.infer<typeof relabelConfigSchema>;
