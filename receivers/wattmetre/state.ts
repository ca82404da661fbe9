import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Mode } from './config.ts';
import type { InvalidReason } from './parse/frame.ts';
import { parseFrame } from './parse/frame.ts';
import { readPackageVersion } from '../../kit/version.ts';

const SCOPE = { name: 'inframeter/receiver/wattmetre', version: readPackageVersion() };

/** Seconds since the epoch as OpenTelemetry's [seconds, nanoseconds]. */
export function hrTime(seconds: number): HrTime {
  const whole = Math.floor(seconds);
  const nanos = Math.round((seconds - whole) * 1e9);
  return nanos >= 1e9 ? [whole + 1, 0] : [whole, nanos];
}

interface Port {
  readonly id: string;
  readonly device: string | undefined;
  /** Last sample, for the energy integral. */
  lastTime: number;
  lastWatts: number;
  energy: number;
  firstTime: number;
  /** Samples waiting to be pushed (full mode), seconds and watts. */
  pending: { t: number; v: number }[];
  /** The second being averaged (mean mode). */
  bucketSecond: number;
  bucketSum: number;
  bucketCount: number;
}

/** What happened to a line, for logging. */
export type LineOutcome = { kind: 'valid'; gap?: number } | { kind: InvalidReason; detail: string };

/**
 * Everything the wattmetre receiver knows between pushes: pending samples per port, the
 * energy integrals, per-second buckets for ports in `mean` mode, and the frame counters.
 * Pure: lines in, batches out, no I/O and no clock.
 */
export class WattmetreState {
  readonly #meter: string;
  readonly #devices: ReadonlyMap<string, string>;
  readonly #modeOf: (key: string) => Mode;
  readonly #maxGap: number;
  readonly #startTime: number;
  /** By port number; a port never seen is a hole. */
  readonly #ports: (Port | undefined)[] = [];
  #lastFrameTime = Number.NaN;
  readonly #frames = new Map<string, number>([
    ['valid', 0],
    ['not_ok', 0],
    ['malformed', 0],
  ]);
  #gaps = 0;
  #restarts = 0;

  /**
   * @param devices the device of each port name (the mapping file)
   * @param modeOf the mode of a device (or of an unmapped port), asked at every sample
   * @param maxGapSeconds frames further apart are a gap
   * @param startTime seconds since the epoch: the start of the counters
   */
  constructor(
    meter: string,
    devices: ReadonlyMap<string, string>,
    modeOf: (key: string) => Mode,
    maxGapSeconds: number,
    startTime: number,
  ) {
    this.#meter = meter;
    this.#devices = devices;
    this.#modeOf = modeOf;
    this.#maxGap = maxGapSeconds;
    this.#startTime = startTime;
  }

  #port(n: number): Port {
    let port = this.#ports[n];
    if (port === undefined) {
      const id = `${this.#meter}-port${String(n)}`;
      port = {
        id,
        device: this.#devices.get(id),
        lastTime: Number.NaN,
        lastWatts: 0,
        energy: 0,
        firstTime: Number.NaN,
        pending: [],
        bucketSecond: Number.NaN,
        bucketSum: 0,
        bucketCount: 0,
      };
      this.#ports[n] = port;
    }
    return port;
  }

  restarted(): void {
    this.#restarts += 1;
  }

  /** Counts a line dropped for its length (`frame.status` `oversized`). */
  oversized(): void {
    this.#frames.set('oversized', (this.#frames.get('oversized') ?? 0) + 1);
  }

  /** Takes one line of `wattmetre-read`. */
  line(text: string): LineOutcome {
    const parsed = parseFrame(text);
    if (!parsed.ok) {
      this.#frames.set(parsed.reason, (this.#frames.get(parsed.reason) ?? 0) + 1);
      return { kind: parsed.reason, detail: parsed.detail };
    }
    const { time, watts } = parsed.frame;
    this.#frames.set('valid', (this.#frames.get('valid') ?? 0) + 1);
    let gap: number | undefined;
    if (!Number.isNaN(this.#lastFrameTime) && time - this.#lastFrameTime > this.#maxGap) {
      gap = time - this.#lastFrameTime;
      this.#gaps += 1;
    }
    if (Number.isNaN(this.#lastFrameTime) || time > this.#lastFrameTime) this.#lastFrameTime = time;
    watts.forEach((w, n) => {
      if (w === undefined) return;
      const port = this.#port(n);
      const dt = time - port.lastTime;
      if (dt > 0 && dt <= this.#maxGap) port.energy += port.lastWatts * dt;
      if (Number.isNaN(port.firstTime)) port.firstTime = time;
      if (Number.isNaN(port.lastTime) || time >= port.lastTime) {
        port.lastTime = time;
        port.lastWatts = w;
      }
      if (this.#modeOf(port.device ?? port.id) === 'full') {
        this.#closeBucket(port);
        port.pending.push({ t: time, v: w });
        return;
      }
      const second = Math.floor(time);
      if (second !== port.bucketSecond) this.#closeBucket(port);
      port.bucketSecond = second;
      port.bucketSum += w;
      port.bucketCount += 1;
    });
    return gap === undefined ? { kind: 'valid' } : { kind: 'valid', gap };
  }

  /** Moves a finished per-second mean into the pending samples, stamped with the second's start. */
  #closeBucket(port: Port): void {
    if (port.bucketCount > 0)
      port.pending.push({ t: port.bucketSecond, v: port.bucketSum / port.bucketCount });
    port.bucketSecond = Number.NaN;
    port.bucketSum = 0;
    port.bucketCount = 0;
  }

  /**
   * The batch of everything since the previous drain: power samples, energy and frame
   * counters. `final` also closes the seconds still being averaged.
   */
  drain(resource: Resource, final = false): { batch: ResourceMetrics; samples: number } {
    const power: DataPoint<number>[] = [];
    const energy: DataPoint<number>[] = [];
    const start = hrTime(this.#startTime);
    for (const port of this.#ports) {
      if (port === undefined) continue;
      if (final) this.#closeBucket(port);
      const attributes = {
        'hw.id': port.id,
        'hw.type': 'power_supply',
        ...(port.device === undefined ? {} : { 'device.id': port.device }),
      };
      for (const s of port.pending)
        power.push({ startTime: hrTime(s.t), endTime: hrTime(s.t), attributes, value: s.v });
      port.pending = [];
      if (!Number.isNaN(port.lastTime))
        energy.push({
          startTime: hrTime(port.firstTime),
          endTime: hrTime(port.lastTime),
          attributes,
          value: port.energy,
        });
    }
    const now = Number.isNaN(this.#lastFrameTime) ? this.#startTime : this.#lastFrameTime;
    const counter = (attributes: Record<string, string>, value: number): DataPoint<number> => ({
      startTime: start,
      endTime: hrTime(now),
      attributes,
      value,
    });
    const metric = (
      name: string,
      unit: string,
      description: string,
      type: 'gauge' | 'counter',
      points: DataPoint<number>[],
    ): MetricData =>
      type === 'gauge'
        ? {
            descriptor: { name, unit, description, valueType: ValueType.DOUBLE },
            dataPointType: DataPointType.GAUGE,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: points,
          }
        : {
            descriptor: { name, unit, description, valueType: ValueType.DOUBLE },
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: points,
          };
    const metrics: MetricData[] = [];
    if (power.length > 0) metrics.push(metric('hw.power', 'W', 'Power through the port.', 'gauge', power));
    if (energy.length > 0)
      metrics.push(
        metric('hw.energy', 'J', 'Energy through the port since the receiver started.', 'counter', energy),
      );
    metrics.push(
      metric(
        'inframeter.wattmetre.frames',
        '{frame}',
        'Lines read, by status.',
        'counter',
        [...this.#frames].map(([status, n]) => counter({ 'hw.id': this.#meter, 'frame.status': status }, n)),
      ),
      metric('inframeter.wattmetre.gaps', '{gap}', 'Frames further apart than max_gap.', 'counter', [
        counter({ 'hw.id': this.#meter }, this.#gaps),
      ]),
      metric('inframeter.wattmetre.restarts', '{restart}', 'Source restarts.', 'counter', [
        counter({ 'hw.id': this.#meter }, this.#restarts),
      ]),
    );
    return { batch: { resource, scopeMetrics: [{ scope: SCOPE, metrics }] }, samples: power.length };
  }
}
