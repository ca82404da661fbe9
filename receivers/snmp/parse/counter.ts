/**
 * Cumulative counters from SNMP Counter32/Counter64 readings (RFC 2578 §7.1.6, §7.1.10): a
 * Counter wraps to zero at 2^32 or 2^64, and its value is only meaningful relative to an
 * earlier reading while sysUpTime keeps increasing. Pure functions over the previous state.
 */

/** What is kept per series between polls. */
export interface CounterState {
  /** The previous raw reading. */
  readonly raw: number | bigint;
  /** Wraps counted so far, as the amount added to the raw value. */
  readonly offset: number;
}

/** How a reading relates to the previous one. */
export type CounterEvent = 'first' | 'continued' | 'wrapped' | 'reset';

/**
 * The cumulative value of a reading. A raw value below the previous one is a wrap when the
 * increase it then implies, `raw + modulus - previous`, is less than half the modulus (the
 * counter went past its maximum); otherwise, and always for non-Counter values, the counter was
 * reset and counting starts again from the raw value. After a reboot nothing is inferred.
 */
export function accumulate(
  previous: CounterState | undefined,
  raw: number | bigint,
  modulus: bigint | undefined,
  rebooted: boolean,
): { state: CounterState; value: number; event: CounterEvent } {
  if (previous === undefined || rebooted) {
    const state = { raw, offset: 0 };
    return { state, value: Number(raw), event: previous === undefined ? 'first' : 'reset' };
  }
  if (raw >= previous.raw) {
    return {
      state: { raw, offset: previous.offset },
      value: Number(raw) + previous.offset,
      event: 'continued',
    };
  }
  if (modulus !== undefined) {
    const increase = BigInt(raw) + modulus - BigInt(previous.raw);
    if (increase < modulus / 2n) {
      const offset = previous.offset + Number(modulus);
      return { state: { raw, offset }, value: Number(raw) + offset, event: 'wrapped' };
    }
  }
  return { state: { raw, offset: 0 }, value: Number(raw), event: 'reset' };
}

/** A sysUpTime reading (hundredths of a second) and when it was taken (milliseconds). */
export interface UptimeReading {
  readonly ticks: number;
  readonly at: number;
}

/** TimeTicks wrap at 2^32 hundredths of a second, about 497 days. */
const TIMETICKS_MODULUS = 2 ** 32;
/** Slack allowed between the agent's clock and ours: 60 s, plus half the elapsed time. */
const UPTIME_SLACK_TICKS = 6000;

/**
 * True when sysUpTime went backwards because the agent restarted, not because TimeTicks
 * wrapped: a wrap is recognised when the increase it implies matches the time elapsed.
 */
export function hasRebooted(previous: UptimeReading | undefined, current: UptimeReading): boolean {
  if (previous === undefined || current.ticks >= previous.ticks) return false;
  const wrappedIncrease = current.ticks + TIMETICKS_MODULUS - previous.ticks;
  const elapsedTicks = (current.at - previous.at) / 10;
  return Math.abs(wrappedIncrease - elapsedTicks) > UPTIME_SLACK_TICKS + elapsedTicks / 2;
}
