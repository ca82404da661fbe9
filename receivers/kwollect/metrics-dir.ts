import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReceiverFactory } from '../../kit/component.ts';
import { ipmiFactory } from '../ipmi/index.ts';
import { prometheusReceiverFactory } from '../prometheus/index.ts';
import { snmpFactory } from '../snmp/index.ts';
import type { KwollectMetric } from './parse/metrics-file.ts';
import { parseMetricsFile } from './parse/metrics-file.ts';
import type { Translated } from './translate.ts';
import { translate } from './translate.ts';

/** The receivers kwollect's URL schemes run on. */
export const FACTORIES: Readonly<Record<Translated['type'], ReceiverFactory>> = {
  snmp: snmpFactory,
  ipmi: ipmiFactory,
  prometheus: prometheusReceiverFactory,
};

/** Reads every `*.yaml` (and `*.yml`) of a kwollect `metrics.d` directory, in name order. */
export function readMetricsDir(dir: string): KwollectMetric[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .flatMap((f) => parseMetricsFile(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}

/** A receiver configuration made from kwollect metrics, checked by its receiver's schema. */
export interface CheckedReceiver {
  readonly translated: Translated;
  /** What the receiver's schema made of `translated.config`. */
  readonly config: unknown;
}

/** A metrics.d tree, read and made into receiver configurations. */
export interface MetricsTree {
  readonly metrics: KwollectMetric[];
  /** The receivers of the metrics that are always collected, one per protocol and interval. */
  readonly receivers: CheckedReceiver[];
  /** One receiver per `optional` metric, started while it is promoted. */
  readonly optional: (CheckedReceiver & { readonly metric: KwollectMetric })[];
}

/**
 * Reads and translates a metrics.d tree; throws one error listing every problem (a file
 * that is not kwollect's format, or a receiver configuration its schema refuses), so that
 * `inframeter validate` finds what `inframeter run` would.
 */
export function loadMetricsTree(dir: string, ipmiWorkarounds: readonly string[]): MetricsTree {
  const metrics = readMetricsDir(dir);
  const problems: string[] = [];
  const check = (translated: Translated): CheckedReceiver[] => {
    const parsed = FACTORIES[translated.type].configSchema.safeParse(translated.config);
    if (parsed.success) return [{ translated, config: parsed.data }];
    for (const i of parsed.error.issues)
      problems.push(
        `${translated.type} metrics every ${String(translated.config.collection_interval)}: ${i.path.join('.')}: ${i.message}`,
      );
    return [];
  };
  const receivers = translate(
    metrics.filter((m) => !m.optional),
    ipmiWorkarounds,
  ).flatMap(check);
  const optional = metrics
    .filter((m) => m.optional)
    .flatMap((metric) =>
      translate([metric], ipmiWorkarounds)
        .flatMap(check)
        .map((r) => ({ ...r, metric })),
    );
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { metrics, receivers, optional };
}
