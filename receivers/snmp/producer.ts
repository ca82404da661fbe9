import { ValueType } from '@opentelemetry/api';
import type { MetricMetadata } from '../../kit/metadata.ts';
import { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import type { InstrumentSpec } from './config.ts';
import { snmpMetadata } from './metadata.ts';
import type { TargetSnapshot } from './snapshot.ts';

/** The receiver's own metrics whose values are fractional; the others count things. */
const DOUBLE_SELF_METRICS: ReadonlySet<string> = new Set(['inframeter.snmp.poll.duration']);

/**
 * The producer of the snmp receiver: one metric per name the targets' profiles can emit, and
 * the self-telemetry per target, observed by one callback that reads the latest snapshot of
 * every target (it reads nothing itself). Values are typed as the OpenTelemetry Collector's
 * snmp receiver types them: integers where the SNMP value is an integer by type and no
 * fractional scale applies (`value_type` of the profile metric), doubles otherwise.
 */
export function createSnmpProducer(
  instruments: ReadonlyMap<string, InstrumentSpec>,
  snapshot: () => Iterable<TargetSnapshot>,
): SnapshotProducer {
  const profileMetrics: MetricMetadata[] = [...instruments].map(([name, spec]) => ({
    name,
    instrument: spec.instrument,
    unit: spec.unit,
    description: spec.description,
    attributes: [],
    group: 'profile',
    enabled: true,
  }));
  const selfMetrics = snmpMetadata.metrics.filter((m) => m.group === 'self');
  const valueType = (metric: MetricMetadata): ValueType => {
    const spec = instruments.get(metric.name);
    const double = spec === undefined ? DOUBLE_SELF_METRICS.has(metric.name) : spec.value_type === 'double';
    return double ? ValueType.DOUBLE : ValueType.INT;
  };
  return new SnapshotProducer(
    'inframeter/receiver/snmp',
    [...profileMetrics, ...selfMetrics],
    () => true,
    (p) => {
      const duration = p.metric('inframeter.snmp.poll.duration');
      const success = p.metric('inframeter.snmp.poll.success');
      const varbinds = p.metric('inframeter.snmp.poll.varbinds');
      const pollErrors = p.metric('inframeter.snmp.poll.errors');
      const varbindErrors = p.metric('inframeter.snmp.varbind.errors');
      for (const target of snapshot()) {
        if (!target.polled) continue;
        const { device } = target;
        duration?.observe(target.durationSeconds, device);
        success?.observe(target.success ? 1 : 0, device);
        varbinds?.observe(target.varbinds, device);
        for (const [failure, count] of target.pollErrors)
          pollErrors?.observe(count, { ...device, 'error.type': failure });
        for (const { oid, problem, count } of target.varbindErrors.values())
          varbindErrors?.observe(count, { ...device, 'snmp.oid': oid, 'error.type': problem });
        for (const point of target.points) p.observe(point.name, point.value, point.attributes);
      }
    },
    valueType,
  );
}
