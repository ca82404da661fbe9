import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParameters, fuzzTimeout } from '../../test/support/fuzz.ts';
import type { DecodedRequest } from './decode.ts';
import { decodeExportRequest, toResourceMetrics } from './decode.ts';
import { otlpTypes } from './proto.ts';
import { decodeMetricsRequest } from './wire-decode.ts';

// The OTLP wire decoder against protobufjs as the oracle: for generated requests of every
// point kind and attribute type, and for corruptions of their bytes, the same result as
// protobufjs's decoding followed by the same conversion, or both rejecting; a rejection is
// the decoder's own Error, never a TypeError or RangeError escaping from a bug.

type Outcome = { ok: true; value: DecodedRequest } | { ok: false; error: unknown };

function outcome(decode: () => DecodedRequest): Outcome {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    return { ok: false, error };
  }
}

const reference = (bytes: Uint8Array): Outcome =>
  outcome(() => toResourceMetrics(decodeExportRequest(bytes)));
const wire = (bytes: Uint8Array): Outcome => outcome(() => decodeMetricsRequest(bytes));

/**
 * The decoder's own rejections: plain Errors, and the RangeError "index out of range" it
 * raises (as protobufjs does) for a length past the end; a TypeError, or a RangeError of
 * another kind, is a bug escaping.
 */
function expectOwnRejection(result: Outcome): void {
  if (result.ok) return;
  const error = result.error;
  const own =
    error instanceof Error &&
    (error.constructor === Error || (error instanceof RangeError && error.message === 'index out of range'));
  if (!own) throw error;
}

const time = fc.record({ low: fc.nat(), high: fc.nat({ max: 0x7fffffff }) });
const anyValue: fc.Arbitrary<object> = fc.letrec<{ value: object }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.record({ stringValue: fc.string({ maxLength: 8 }) }),
    fc.record({ intValue: fc.integer() }),
    fc.record({ doubleValue: fc.double() }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ bytesValue: fc.uint8Array({ maxLength: 4 }) }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('value'), { maxLength: 2 }) }) }),
    fc.record({
      kvlistValue: fc.record({
        values: fc.array(fc.record({ key: fc.string({ maxLength: 4 }), value: tie('value') }), {
          maxLength: 2,
        }),
      }),
    }),
  ),
})).value;
const attributes = fc.array(
  fc.record({ key: fc.string({ maxLength: 6 }), value: anyValue }, { requiredKeys: ['key'] }),
  {
    maxLength: 3,
  },
);
const numberPoint = fc.record(
  {
    attributes,
    startTimeUnixNano: time,
    timeUnixNano: time,
    asDouble: fc.double(),
    asInt: fc.integer(),
    flags: fc.nat({ max: 3 }),
  },
  { requiredKeys: ['timeUnixNano'] },
);
const histogramPoint = fc.record(
  {
    attributes,
    timeUnixNano: time,
    count: fc.nat(),
    sum: fc.double(),
    bucketCounts: fc.array(fc.nat(), { maxLength: 4 }),
    explicitBounds: fc.array(fc.double({ noNaN: true }), { maxLength: 3 }),
    min: fc.double(),
    max: fc.double(),
  },
  { requiredKeys: ['timeUnixNano'] },
);
const metric = fc
  .record(
    {
      name: fc.string({ maxLength: 10 }),
      unit: fc.string({ maxLength: 3 }),
      description: fc.string({ maxLength: 5 }),
      data: fc.oneof(
        fc.record({ gauge: fc.record({ dataPoints: fc.array(numberPoint, { maxLength: 3 }) }) }),
        fc.record({
          sum: fc.record({
            dataPoints: fc.array(numberPoint, { maxLength: 3 }),
            aggregationTemporality: fc.integer({ min: 0, max: 3 }),
            isMonotonic: fc.boolean(),
          }),
        }),
        fc.record({
          histogram: fc.record({
            dataPoints: fc.array(histogramPoint, { maxLength: 2 }),
            aggregationTemporality: fc.integer({ min: 0, max: 3 }),
          }),
        }),
      ),
    },
    { requiredKeys: ['name', 'data'] },
  )
  .map(({ data, ...rest }) => ({ ...rest, ...data }));
const request = fc.record({
  resourceMetrics: fc.array(
    fc.record({
      resource: fc.record({ attributes }),
      scopeMetrics: fc.array(
        fc.record({
          scope: fc.record({ name: fc.string({ maxLength: 5 }), version: fc.string({ maxLength: 3 }) }),
          metrics: fc.array(metric, { maxLength: 3 }),
        }),
        { maxLength: 2 },
      ),
    }),
    { maxLength: 2 },
  ),
});

const encode = (value: object): Uint8Array =>
  otlpTypes.ExportMetricsServiceRequest.encode(
    otlpTypes.ExportMetricsServiceRequest.fromObject(value),
  ).finish();

describe('OTLP wire decoder against protobufjs', () => {
  it(
    'decodes generated requests as protobufjs does',
    () => {
      fc.assert(
        fc.property(request, (value) => {
          const bytes = encode(value);
          const ours = wire(bytes);
          expectOwnRejection(ours);
          const theirs = reference(bytes);
          expect(ours.ok).toBe(theirs.ok);
          if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
        }),
        fuzzParameters(300),
      );
    },
    fuzzTimeout(),
  );

  it(
    'agrees with protobufjs on corrupted and truncated bytes, rejecting with its own Error',
    () => {
      fc.assert(
        fc.property(
          request,
          fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.option(fc.nat(), { nil: undefined }),
          (value, flips, cut) => {
            const bytes = Uint8Array.from(encode(value));
            if (bytes.length === 0) return;
            for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
            const damaged = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
            const ours = wire(damaged);
            expectOwnRejection(ours);
            const theirs = reference(damaged);
            expect(ours.ok).toBe(theirs.ok);
            if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
          },
        ),
        fuzzParameters(300),
      );
    },
    fuzzTimeout(),
  );

  it(
    'arbitrary bytes: decoded or rejected with its own Error',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expectOwnRejection(wire(bytes));
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );
});
