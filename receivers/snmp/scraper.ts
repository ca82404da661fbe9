import type { Attributes } from '@opentelemetry/api';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import { ScrapeError } from '../../kit/errors.ts';
import type { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import type { SnmpClient, SnmpSession } from './client.ts';
import { forEachLimited } from './concurrency.ts';
import type { ResolvedTarget, SnmpConfig } from './config.ts';
import type { PollFailure } from './errors.ts';
import { SnmpError, pollFailureOf } from './errors.ts';
import type { CounterState, UptimeReading } from './parse/counter.ts';
import { accumulate, hasRebooted } from './parse/counter.ts';
import type { PollPlan } from './parse/plan.ts';
import { SYS_UP_TIME, fallbackColumns, planPoll } from './parse/plan.ts';
import type { OidProblem, Sample } from './parse/points.ts';
import { applyScale, evaluateProfile } from './parse/points.ts';
import type { Column } from './parse/table.ts';
import { groupColumns } from './parse/table.ts';
import type { DecodedVarbind, VarbindProblem } from './parse/varbind.ts';
import { decodeVarbind } from './parse/varbind.ts';
import { createSnmpProducer } from './producer.ts';
import type { Profile } from './profile.ts';
import type { Point, TargetSnapshot } from './snapshot.ts';

/** A monotonic clock in milliseconds; tests move it by hand. */
export interface Clock {
  monotonic(): number;
}

const systemClock: Clock = { monotonic: () => performance.now() };

/** Whether two attribute sets hold the same keys and values. */
function sameAttributes(a: Attributes, b: Attributes): boolean {
  let count = 0;
  for (const key in b) {
    if (a[key] !== b[key]) return false;
    count += 1;
  }
  return count === Object.keys(a).length;
}

/** Problems named in a target's error message; the rest are counted. */
const PROBLEMS_IN_MESSAGE = 5;

/** One target: what it reads, its open session, its counters and what it last published. */
interface TargetState {
  readonly config: ResolvedTarget;
  readonly profiles: readonly Profile[];
  readonly plan: PollPlan;
  /** `snmp.target` and `device.id`. */
  readonly device: Readonly<Record<string, string>>;
  /** The device attributes and the target's own fixed attributes. */
  readonly base: Readonly<Record<string, string>>;
  session: SnmpSession | undefined;
  busy: boolean;
  lastStart: number | undefined;
  uptime: UptimeReading | undefined;
  counters: Map<string, CounterState>;
  /**
   * The attributes of each series published by the last poll, by series: the same object is
   * published again while its values stay the same, so that the producer finds the series by
   * identity instead of by its values.
   */
  attributes: Map<string, Attributes>;
  readonly pollErrors: Map<PollFailure, number>;
  readonly varbindErrors: Map<string, { oid: string; problem: VarbindProblem; count: number }>;
  snapshot: TargetSnapshot;
}

/** What a poll read before it is turned into points. */
interface PollResult {
  readonly scalars: ReadonlyMap<string, DecodedVarbind>;
  readonly columns: ReadonlyMap<string, Column>;
  readonly varbinds: number;
}

/**
 * Polls every target that is due, at most `max_concurrent_targets` at a time, each bounded by
 * its own timeout × (retries + 1) per request: a dead target fails alone, the others are read.
 * Counters are made cumulative across wraps; a target that failed publishes no points, only
 * its self-telemetry.
 */
export class SnmpScraper implements Scraper {
  readonly #config: SnmpConfig;
  readonly #client: SnmpClient;
  readonly #clock: Clock;
  readonly #targets: TargetState[];
  /** Everything is published through it: the points and self-telemetry of every target. */
  readonly metricProducer: SnapshotProducer;

  constructor(options: { config: SnmpConfig; client: SnmpClient; clock?: Clock }) {
    this.#config = options.config;
    this.#client = options.client;
    this.#clock = options.clock ?? systemClock;
    this.#targets = options.config.targets.map((config) => {
      const profiles = config.profiles.map((p) => p.profile);
      const device = { 'snmp.target': config.name, 'device.id': config.device_id };
      return {
        config,
        profiles,
        plan: planPoll(profiles),
        device,
        base: { ...device, ...config.attributes },
        session: undefined,
        busy: false,
        lastStart: undefined,
        uptime: undefined,
        counters: new Map(),
        attributes: new Map(),
        pollErrors: new Map(),
        varbindErrors: new Map(),
        snapshot: {
          device,
          polled: false,
          success: false,
          durationSeconds: 0,
          varbinds: 0,
          points: [],
          pollErrors: new Map(),
          varbindErrors: new Map(),
        },
      };
    });
    this.metricProducer = createSnmpProducer(options.config.instruments, () =>
      this.#targets.map((t) => t.snapshot),
    );
  }

  async scrape(signal: AbortSignal): Promise<ScrapeReport> {
    const now = this.#clock.monotonic();
    // A target is due when its interval has elapsed, give or take half a collection interval.
    const slack = this.#config.collection_interval / 2;
    const due = this.#targets.filter(
      (t) => !t.busy && (t.lastStart === undefined || now - t.lastStart + slack >= t.config.interval),
    );
    const errors = new Map<string, Error>();
    await forEachLimited(due, this.#config.max_concurrent_targets, async (target) => {
      if (signal.aborted) return;
      const error = await this.#poll(target, signal);
      if (error !== undefined) errors.set(target.config.name, error);
    });
    return { errors };
  }

  shutdown(): Promise<void> {
    for (const target of this.#targets) {
      target.session?.close();
      target.session = undefined;
    }
    return Promise.resolve();
  }

  #openSession(target: TargetState): SnmpSession {
    if (target.session?.usable === true) return target.session;
    target.session?.close();
    const { address, port, transport, timeout, retries, auth } = target.config;
    target.session = this.#client.open({ address, port, transport, timeout, retries, auth });
    return target.session;
  }

  async #read(target: TargetState, session: SnmpSession, signal: AbortSignal): Promise<PollResult> {
    const { plan } = target;
    const got = await session.get(plan.scalars, signal);
    // GET answers in request order; key by the requested OID whatever the agent echoed.
    const scalars = new Map(
      plan.scalars.map((oid, i) => [
        oid,
        decodeVarbind({ oid, type: got[i]?.type ?? -1, value: got[i]?.value }),
      ]),
    );
    let varbinds = got.length;
    const columns = new Map<string, Column>();
    if (plan.columns.length > 0) {
      const walked = await session.walk(plan.columns, target.config.max_repetitions, signal);
      varbinds += walked.length;
      for (const [oid, rows] of groupColumns(plan.columns, walked)) columns.set(oid, rows);
      const extra = fallbackColumns(target.profiles, columns);
      if (extra.length > 0) {
        const more = await session.walk(extra, target.config.max_repetitions, signal);
        varbinds += more.length;
        for (const [oid, rows] of groupColumns(extra, more)) columns.set(oid, rows);
      }
    }
    return { scalars, columns, varbinds };
  }

  #toPoints(
    target: TargetState,
    result: PollResult,
    at: number,
  ): { points: Point[]; problems: OidProblem[] } {
    const uptime = result.scalars.get(SYS_UP_TIME);
    let rebooted = false;
    if (uptime?.ok === true && uptime.value.kind === 'timeticks') {
      const reading = { ticks: uptime.value.value, at };
      rebooted = hasRebooted(target.uptime, reading);
      target.uptime = reading;
    }
    const samples: Sample[] = [];
    const problems: OidProblem[] = [];
    for (const profile of target.profiles) evaluateProfile(profile, result, samples, problems);
    const counters = new Map<string, CounterState>();
    const published = new Map<string, Attributes>();
    const points: Point[] = [];
    for (const sample of samples) {
      let value: number;
      if (sample.instrument === 'counter') {
        const { state, value: cumulative } = accumulate(
          target.counters.get(sample.series),
          sample.raw,
          sample.modulus,
          rebooted,
        );
        counters.set(sample.series, state);
        value = applyScale(cumulative, sample.scale, sample.digits);
      } else {
        value = applyScale(Number(sample.raw), sample.scale, sample.digits);
      }
      if (!Number.isInteger(value) && this.#config.instruments.get(sample.name)?.value_type === 'int') {
        // An OCTET STRING holding a decimal number: not truncated, reported.
        problems.push({
          oid: sample.oid,
          problem: 'not_an_integer',
          detail: `${sample.name} is an int metric: ${String(value)} is not an integer (set value_type: double)`,
        });
        continue;
      }
      const fresh: Attributes = { ...target.base, ...sample.attributes };
      const known = target.attributes.get(sample.series);
      const attributes = known !== undefined && sameAttributes(known, fresh) ? known : fresh;
      published.set(sample.series, attributes);
      points.push({ name: sample.name, value, attributes });
    }
    // Series that vanished (an interface removed) are forgotten with this poll.
    target.counters = counters;
    target.attributes = published;
    return { points, problems };
  }

  #countProblems(target: TargetState, problems: readonly OidProblem[]): Error | undefined {
    for (const { oid, problem } of problems) {
      const key = `${oid} ${problem}`;
      const known = target.varbindErrors.get(key);
      if (known === undefined) target.varbindErrors.set(key, { oid, problem, count: 1 });
      else known.count += 1;
    }
    if (problems.length === 0) return undefined;
    const named = problems
      .slice(0, PROBLEMS_IN_MESSAGE)
      .map((p) => `${p.oid} (${p.problem})`)
      .join(', ');
    const more =
      problems.length > PROBLEMS_IN_MESSAGE ? ` and ${problems.length - PROBLEMS_IN_MESSAGE} more` : '';
    return new ScrapeError(problems.length, `${target.config.name}: no value for ${named}${more}`);
  }

  /** Polls one target; resolves with its error, never rejects. */
  async #poll(target: TargetState, signal: AbortSignal): Promise<Error | undefined> {
    const started = this.#clock.monotonic();
    target.busy = true;
    target.lastStart = started;
    let session: SnmpSession | undefined;
    let error: Error | undefined;
    let success = false;
    let points: readonly Point[] = [];
    let varbinds = 0;
    try {
      session = this.#openSession(target);
      const result = await this.#read(target, session, signal);
      const evaluated = this.#toPoints(target, result, this.#clock.monotonic());
      points = evaluated.points;
      varbinds = result.varbinds;
      success = true;
      error = this.#countProblems(target, evaluated.problems);
    } catch (caught) {
      const failure = pollFailureOf(caught);
      target.pollErrors.set(failure, (target.pollErrors.get(failure) ?? 0) + 1);
      error = caught instanceof Error ? caught : new SnmpError('socket', String(caught));
      if (failure === 'socket') {
        session?.close();
        target.session = undefined;
      }
    } finally {
      target.busy = false;
    }
    const stray = session?.takeStrayErrors() ?? [];
    if (stray.length > 0) {
      target.pollErrors.set(
        'malformed_response',
        (target.pollErrors.get('malformed_response') ?? 0) + stray.length,
      );
      error ??= stray[0];
    }
    target.snapshot = {
      device: target.device,
      polled: true,
      success,
      durationSeconds: (this.#clock.monotonic() - started) / 1000,
      varbinds,
      points,
      pollErrors: new Map(target.pollErrors),
      varbindErrors: new Map([...target.varbindErrors].map(([key, v]) => [key, { ...v }])),
    };
    return error;
  }
}
