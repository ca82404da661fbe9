import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParameters, fuzzTimeout } from '../../test/support/fuzz.ts';
import { OtlpDecodeError } from '../errors.ts';
import type { DecodedRequest } from './decode.ts';
import { decodeMetricsRequest, decodeMetricsRequestJson } from './decode.ts';
import { otlpTypes } from './proto.ts';
import { protobufjsOutcomes, requestJson } from './testdata/requests.ts';

// The OTLP decoder against protobufjs as the oracle: for generated requests of every point
// kind and attribute type, and for corruptions of their bytes, it accepts exactly what
// protobufjs accepts and accounts for every point protobufjs sees (SDK points, rejected
// points and points without a value); a rejection is an OtlpDecodeError, never a TypeError
// or RangeError escaping from a bug. The OTLP/JSON of every generated request decodes to what
// its protobuf decodes to.

type Outcome = { ok: true; value: DecodedRequest } | { ok: false; error: unknown };

function outcome(decode: () => DecodedRequest): Outcome {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    return { ok: false, error };
  }
}

const wire = (bytes: Uint8Array): Outcome => outcome(() => decodeMetricsRequest(bytes));

/** Rejections are the decoder's own error; anything else is a bug escaping. */
function expectOwnRejection(result: Outcome): void {
  if (result.ok) return;
  if (!(result.error instanceof OtlpDecodeError)) throw result.error;
}

/** The decoder accepts exactly what protobufjs accepts, and accounts for every point. */
function expectAgreement(bytes: Uint8Array): Outcome {
  const ours = wire(bytes);
  expectOwnRejection(ours);
  const outcomes = protobufjsOutcomes(bytes);
  expect(ours.ok).toBe(outcomes !== undefined);
  if (ours.ok) expect(ours.value.points + ours.value.rejected + ours.value.noRecordedValue).toBe(outcomes);
  return ours;
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
const buckets = fc.record({
  offset: fc.integer({ min: -50, max: 50 }),
  bucketCounts: fc.array(fc.nat(), { maxLength: 3 }),
});
const exponentialPoint = fc.record(
  {
    attributes,
    timeUnixNano: time,
    count: fc.nat(),
    sum: fc.double(),
    scale: fc.integer({ min: -10, max: 20 }),
    zeroCount: fc.nat(),
    zeroThreshold: fc.double(),
    positive: buckets,
    negative: buckets,
    min: fc.double(),
    max: fc.double(),
    flags: fc.nat({ max: 3 }),
  },
  { requiredKeys: ['timeUnixNano'] },
);
const summaryPoint = fc.record(
  {
    attributes,
    startTimeUnixNano: time,
    timeUnixNano: time,
    count: fc.nat(),
    sum: fc.double(),
    quantileValues: fc.array(fc.record({ quantile: fc.double({ min: 0, max: 1 }), value: fc.double() }), {
      maxLength: 3,
    }),
    flags: fc.nat({ max: 3 }),
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
        fc.record({
          exponentialHistogram: fc.record({
            dataPoints: fc.array(exponentialPoint, { maxLength: 2 }),
            aggregationTemporality: fc.integer({ min: 0, max: 3 }),
          }),
        }),
        fc.record({ summary: fc.record({ dataPoints: fc.array(summaryPoint, { maxLength: 2 }) }) }),
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

describe('OTLP decoder against protobufjs', () => {
  it(
    'decodes generated requests as protobufjs does, and their OTLP/JSON to the same result',
    () => {
      fc.assert(
        fc.property(request, (value) => {
          const bytes = encode(value);
          const ours = expectAgreement(bytes);
          expect(ours.ok).toBe(true);
          // From the decoded message: a generated point may set both values of a oneof, which
          // the protobuf encoding allows (the last wins) and ProtoJSON does not.
          if (ours.ok) expect(decodeMetricsRequestJson(requestJson(bytes))).toEqual(ours.value);
        }),
        fuzzParameters(300),
      );
    },
    fuzzTimeout(),
  );

  it(
    'agrees with protobufjs on corrupted and truncated bytes, rejecting with its own error',
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
            expectAgreement(cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
          },
        ),
        fuzzParameters(300),
      );
    },
    fuzzTimeout(),
  );

  it(
    'arbitrary bytes and text: decoded or rejected with its own error',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expectAgreement(bytes);
          expectOwnRejection(outcome(() => decodeMetricsRequestJson(Buffer.from(bytes).toString('latin1'))));
        }),
        fuzzParameters(500),
      );
      fc.assert(
        fc.property(fc.json(), (text) => {
          expectOwnRejection(outcome(() => decodeMetricsRequestJson(text)));
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );
});
