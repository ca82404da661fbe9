import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReceiverFactory } from '../../service/component.ts';
import { toError } from '../../service/errors.ts';
import { ipmiFactory } from '../ipmi/factory.ts';
import { prometheusReceiverFactory } from '../prometheus/factory.ts';
import { snmpFactory } from '../snmp/factory.ts';
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

/** A metrics.d tree, read and made into receiver configurations, each checked by its receiver's schema. */
export interface MetricsTree {
  readonly metrics: KwollectMetric[];
  readonly receivers: { readonly translated: Translated; readonly config: unknown }[];
}

/**
 * Reads and translates a metrics.d tree; throws one error listing every problem (a file
 * that is not kwollect's format, or a receiver configuration its schema refuses), so that
 * `inframeter validate` finds what `inframeter run` would.
 */
export function loadMetricsTree(dir: string, ipmiWorkarounds: readonly string[]): MetricsTree {
  let metrics: KwollectMetric[];
  try {
    metrics = readMetricsDir(dir);
  } catch (error) {
    throw new Error(toError(error).message, { cause: error });
  }
  const problems: string[] = [];
  const receivers = translate(metrics, ipmiWorkarounds).flatMap((translated) => {
    const parsed = FACTORIES[translated.type].configSchema.safeParse(translated.config);
    if (parsed.success) return [{ translated, config: parsed.data }];
    for (const i of parsed.error.issues)
      problems.push(
        `${translated.type} metrics every ${String(translated.config.collection_interval)}: ${i.path.join('.')}: ${i.message}`,
      );
    return [];
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { metrics, receivers };
}
