import type { Attributes, Meter, Observable } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { InstrumentSpec } from './config.ts';
import type { PollFailure } from './errors.ts';
import { snmpMetadata } from './metadata.ts';
import type { VarbindProblem } from './parse/varbind.ts';

/** One data point as published. */
export interface Point {
  readonly name: string;
  readonly value: number;
  readonly attributes: Attributes;
}

/** What one target last read, and its self-telemetry. */
export interface TargetSnapshot {
  /** `snmp.target` and `device.id`. */
  readonly device: Attributes;
  /** False until the first poll finished: nothing is published for the target before. */
  readonly polled: boolean;
  readonly success: boolean;
  readonly durationSeconds: number;
  readonly varbinds: number;
  readonly points: readonly Point[];
  /** Failed polls (and undecodable datagrams) so far, by failure. */
  readonly pollErrors: ReadonlyMap<PollFailure, number>;
  /** OIDs without a usable value so far, by OID and problem. */
  readonly varbindErrors: ReadonlyMap<
    string,
    { readonly oid: string; readonly problem: VarbindProblem; readonly count: number }
  >;
}

function createObservable(meter: Meter, name: string, spec: InstrumentSpec): Observable {
  const options = { unit: spec.unit, description: spec.description };
  switch (spec.instrument) {
    case 'counter':
      return meter.createObservableCounter(name, options);
    case 'updowncounter':
      return meter.createObservableUpDownCounter(name, options);
    case 'gauge':
      return meter.createObservableGauge(name, options);
  }
}

function selfInstrument(meter: Meter, name: string): Observable {
  const metric = snmpMetadata.metrics.find((m) => m.name === name);
  if (metric === undefined) throw new Error(`${name} is not in the catalogue`);
  const options = { unit: metric.unit, description: metric.description };
  if (metric.instrument === 'counter')
    return meter.createObservableCounter(name, { ...options, valueType: ValueType.INT });
  return meter.createObservableGauge(name, options);
}

/**
 * Registers one instrument per metric name the targets can emit, and the self-telemetry per
 * target, with one batch callback that observes the latest snapshot (it reads nothing itself).
 */
export function registerSnmpInstruments(
  meter: Meter,
  instruments: ReadonlyMap<string, InstrumentSpec>,
  snapshot: () => Iterable<TargetSnapshot>,
): void {
  const data = new Map<string, Observable>();
  for (const [name, spec] of instruments) data.set(name, createObservable(meter, name, spec));
  const duration = selfInstrument(meter, 'inframeter.snmp.poll.duration');
  const success = selfInstrument(meter, 'inframeter.snmp.poll.success');
  const varbinds = selfInstrument(meter, 'inframeter.snmp.poll.varbinds');
  const pollErrors = selfInstrument(meter, 'inframeter.snmp.poll.errors');
  const varbindErrors = selfInstrument(meter, 'inframeter.snmp.varbind.errors');

  meter.addBatchObservableCallback(
    (result) => {
      for (const target of snapshot()) {
        if (!target.polled) continue;
        result.observe(duration, target.durationSeconds, target.device);
        result.observe(success, target.success ? 1 : 0, target.device);
        result.observe(varbinds, target.varbinds, target.device);
        for (const [failure, count] of target.pollErrors)
          result.observe(pollErrors, count, { ...target.device, 'error.type': failure });
        for (const { oid, problem, count } of target.varbindErrors.values())
          result.observe(varbindErrors, count, { ...target.device, 'snmp.oid': oid, 'error.type': problem });
        for (const point of target.points) {
          const instrument = data.get(point.name);
          if (instrument !== undefined) result.observe(instrument, point.value, point.attributes);
        }
      }
    },
    [...data.values(), duration, success, varbinds, pollErrors, varbindErrors],
  );
}
