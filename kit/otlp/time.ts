import type { HrTime } from '@opentelemetry/api';

/**
 * Exact conversions between the SDK's `HrTime` ([seconds, nanoseconds]) and OTLP's
 * `fixed64` nanoseconds since the Unix epoch, split in two unsigned 32-bit halves (the way
 * protobufjs carries 64-bit integers). Doubles hold integers exactly only up to 2^53 and a
 * nanosecond timestamp is about 2^60, so the arithmetic is done in pieces that stay exact.
 */

const TWO_32 = 4_294_967_296;
const TWO_16 = 65_536;
const NS_PER_S = 1_000_000_000;

/** Low and high 32-bit halves of a 64-bit unsigned integer. */
export interface Uint64Bits {
  low: number;
  high: number;
  unsigned: true;
}

/** HrTime → nanoseconds since the epoch as two 32-bit halves. */
export function hrTimeToBits(time: HrTime): Uint64Bits {
  const seconds = time[0];
  const nanos = time[1];
  // seconds = s1·2^16 + s0, so seconds·1e9 + nanos = (s1·1e9)·2^16 + (s0·1e9 + nanos).
  const s1 = Math.floor(seconds / TWO_16);
  const s0 = seconds - s1 * TWO_16;
  const lowPart = s0 * NS_PER_S + nanos; // < 2^46
  const b = s1 * NS_PER_S; // < 2^48 for any date before year 10000
  const bHigh = Math.floor(b / TWO_16);
  const bLow = b - bHigh * TWO_16;
  const sum = bLow * TWO_16 + lowPart; // < 2^47, exact
  const carry = Math.floor(sum / TWO_32);
  return { low: (sum - carry * TWO_32) | 0, high: (bHigh + carry) | 0, unsigned: true };
}

/** Nanoseconds since the epoch, as two 32-bit halves → HrTime. */
export function bitsToHrTime(low: number, high: number): HrTime {
  const lo = low >>> 0;
  const hi = high >>> 0;
  // hi = h1·2^16 + h0; 2^48 = 281474·1e9 + 976710656 and 2^32 = 4·1e9 + 294967296.
  const h1 = Math.floor(hi / TWO_16);
  const h0 = hi - h1 * TWO_16;
  const rest = h1 * 976_710_656 + h0 * 294_967_296 + lo; // < 2^47, exact
  const restSeconds = Math.floor(rest / NS_PER_S);
  return [h1 * 281_474 + h0 * 4 + restSeconds, rest - restSeconds * NS_PER_S];
}
