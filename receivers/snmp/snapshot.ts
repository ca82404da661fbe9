import type { Attributes } from '@opentelemetry/api';
import type { PollFailure } from './errors.ts';
import type { VarbindProblem } from './parse/varbind.ts';

/**
 * What the polls of the snmp receiver leave: written by the scraper (scraper.ts), read by its
 * producer (producer.ts) at collection time.
 */

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
