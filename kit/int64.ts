/**
 * Exact 64-bit integers on number points. The JS SDK's `DataPoint<number>` holds its value as
 * a double, exact only for integers within ±(2^53 − 1) (`Number.isSafeInteger`); an OTLP
 * `as_int` is a signed 64-bit integer (`sfixed64`). A point whose integer is outside the safe
 * range keeps `value` as the nearest double, for every component that reads numbers, and
 * carries the exact integer as a `bigint` in an optional `int64` property of the point object
 * — set by the OTLP decoder ({@link withInt64}), read by the exporters that write integers
 * (OTLP, CSV, Prometheus exposition, InfluxDB line protocol) through {@link int64Of} and
 * {@link valueText}. A safe integer carries nothing: no property, no allocation.
 *
 * The exact integer is trusted only while `value` is still its nearest double: a component
 * that copies a point with a changed value (the relabel processor scaling it) and keeps the
 * property by spreading the object leaves an `int64` that no longer matches, and that one is
 * ignored, the point then written from its double. Pure.
 */

/** The property that carries a point's exact integer. */
interface CarriesInt64 {
  readonly int64?: unknown;
}

const TWO_32 = 2n ** 32n;

/**
 * `point` with `exact` attached as its exact integer (a new object), when `exact` is outside
 * the safe range; `point` itself otherwise.
 */
export function withInt64<P extends { value: number }>(point: P, exact: bigint): P {
  return Number.isSafeInteger(Number(exact)) ? point : { ...point, int64: exact };
}

/**
 * The exact integer `point` carries, when it carries one that its `value` (the nearest
 * double) still matches; undefined otherwise.
 */
export function int64Of(point: { readonly value: unknown }): bigint | undefined {
  const { value } = point;
  // Only a number beyond the safe range can have one: the others cost this comparison.
  if (typeof value !== 'number' || !(Math.abs(value) > Number.MAX_SAFE_INTEGER)) return undefined;
  const exact = (point as CarriesInt64).int64;
  if (typeof exact !== 'bigint') return undefined;
  return Number(exact) === value ? exact : undefined;
}

/**
 * A number point's value as JavaScript prints it (`42`, `0.5`, `1e+21`, `NaN`), except that
 * an exact integer it carries is written in full digits. Only a double beyond the safe range
 * (every such double is an integer) is looked at for one: other values are only formatted.
 */
export function valueText(point: { readonly value: number }): string {
  const exact = int64Of(point);
  return exact === undefined ? String(point.value) : exact.toString();
}

/** A signed 64-bit integer from the two 32-bit halves of its two's complement form. */
export function int64FromBits(low: number, high: number): bigint {
  return BigInt.asIntN(64, BigInt(high >>> 0) * TWO_32 + BigInt(low >>> 0));
}

/**
 * A signed 64-bit integer as the long-like object protobufjs writes an `int64`/`sfixed64`
 * field from (`low` and `high` 32-bit halves of its two's complement form).
 */
export function int64ToBits(value: bigint): { low: number; high: number; unsigned: false } {
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: false };
}
