import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import type { Type } from 'protobufjs';

/**
 * The Prometheus remote-write 1.0 messages (prometheus/prompb `remote.proto` and
 * `types.proto`, as the Remote-Write 1.0 specification states them): `WriteRequest` of
 * `TimeSeries`, each a sorted list of `Label`s and `Sample`s (a float64 value and a
 * timestamp in milliseconds). The encoder writes the wire format directly: a series' labels
 * are encoded once and reused, and a sample is 18 or 19 bytes, so no message objects are
 * built per sample. protobufjs declares the same messages for decoding (tests, the bench).
 */

/** The messages as the specification declares them (fields not in 1.0 are left out). */
const REMOTE_WRITE_PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  reserved 3;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
`;

/** A decoded `WriteRequest` (protobufjs object form, timestamps as numbers). */
export interface DecodedWriteRequest {
  timeseries: {
    labels: { name: string; value: string }[];
    samples: { value: number; timestamp: number }[];
  }[];
}

const require = createRequire(import.meta.url);
let writeRequestType: Type | undefined;

/** Decodes an (uncompressed) `WriteRequest`; timestamps become numbers. */
export function decodeWriteRequest(bytes: Uint8Array): DecodedWriteRequest {
  if (writeRequestType === undefined) {
    const protobuf = require('protobufjs') as typeof Protobuf;
    const root = protobuf.parse(REMOTE_WRITE_PROTO, { keepCase: true }).root;
    writeRequestType = root.lookupType('prometheus.WriteRequest');
  }
  const message = writeRequestType.decode(bytes);
  return writeRequestType.toObject(message, { longs: Number, defaults: true }) as DecodedWriteRequest;
}

const WIRE_LEN = 2;
/** TimeSeries.labels and WriteRequest.timeseries: field 1, length-delimited. */
const TAG_1_LEN = (1 << 3) | WIRE_LEN;
/** Label.value and TimeSeries.samples: field 2, length-delimited. */
const TAG_2_LEN = (2 << 3) | WIRE_LEN;
/** Sample.value: field 1, 64-bit. */
const TAG_VALUE = (1 << 3) | 1;
/** Sample.timestamp: field 2, varint. */
const TAG_TIMESTAMP = 2 << 3;

/** Bytes of a varint for a non-negative integer up to 2^53. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 4;
  let rest = Math.floor(value / 0x10000000);
  while (rest > 0) {
    rest = Math.floor(rest / 128);
    size += 1;
  }
  return size;
}

/** Bytes of the varint of an int64: negative numbers take ten (two's complement). */
function int64Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  let rest = value;
  let at = offset;
  // Above 2^31 bitwise operators would wrap: divide; the low 7 bits survive ToInt32 anyway.
  while (rest > 0x7fffffff) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  while (rest > 0x7f) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[at++] = rest;
  return at;
}

function writeInt64(out: Uint8Array, offset: number, value: number): number {
  if (value >= 0) return writeVarint(out, offset, value);
  let rest = BigInt.asUintN(64, BigInt(value));
  let at = offset;
  while (rest >= 128n) {
    out[at] = Number(rest & 127n) | 128;
    rest >>= 7n;
    at += 1;
  }
  out[at] = Number(rest);
  return at + 1;
}

const utf8 = new TextEncoder();

/**
 * The labels of a series as the repeated `TimeSeries.labels` field, ready to be copied into
 * every request that carries the series. `labels` must be sorted by name (the specification
 * requires it) and hold `__name__`.
 */
export function encodeLabels(labels: readonly (readonly [string, string])[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of labels) {
    const n = utf8.encode(name);
    const v = utf8.encode(value);
    const body = 1 + varintSize(n.length) + n.length + 1 + varintSize(v.length) + v.length;
    const out = new Uint8Array(1 + varintSize(body) + body);
    let at = 0;
    out[at++] = TAG_1_LEN;
    at = writeVarint(out, at, body);
    // Label.name: field 1, length-delimited, like TimeSeries.labels.
    out[at++] = TAG_1_LEN;
    at = writeVarint(out, at, n.length);
    out.set(n, at);
    at += n.length;
    out[at++] = TAG_2_LEN;
    at = writeVarint(out, at, v.length);
    out.set(v, at);
    parts.push(out);
    size += out.length;
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/**
 * The samples of one request, flat, in the order they were added: `labels[i]`, `values[i]`,
 * `timestamps[i]`, `stale[i]` describe sample i. The samples of one series are chained: `first[i]`
 * is true for the first sample of its series in the request, `next[i]` the index of the
 * series' following sample (in time order) or -1. Each series becomes one `TimeSeries`.
 */
export interface FlatSamples {
  readonly length: number;
  readonly labels: readonly Uint8Array[];
  readonly values: readonly number[];
  readonly timestamps: readonly number[];
  readonly stale: readonly boolean[];
  readonly first: readonly boolean[];
  readonly next: readonly number[];
}

/** One series of a request: its encoded labels and its samples in time order. */
export interface EncodableSeries {
  readonly labels: Uint8Array;
  readonly values: readonly number[];
  /** Sample times in milliseconds since the epoch. */
  readonly timestamps: readonly number[];
  /** Indexes (into `values`) of stale markers. */
  readonly stale?: ReadonlySet<number> | undefined;
}

/** The bit pattern of Prometheus's stale marker: a NaN that no computation produces. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

function sampleSize(timestamp: number): number {
  return 1 + 8 + 1 + int64Size(timestamp);
}

/** A `WriteRequest` of whole series (for tests and tools): see {@link encodeFlatSamples}. */
export function encodeWriteRequest(series: readonly EncodableSeries[]): Uint8Array {
  const flat = {
    length: 0,
    labels: [] as Uint8Array[],
    values: [] as number[],
    timestamps: [] as number[],
    stale: [] as boolean[],
    first: [] as boolean[],
    next: [] as number[],
  };
  for (const s of series) {
    s.timestamps.forEach((timestamp, j) => {
      const i = flat.length;
      flat.labels.push(s.labels);
      flat.values.push(s.values[j] ?? 0);
      flat.timestamps.push(timestamp);
      flat.stale.push(s.stale?.has(j) === true);
      flat.first.push(j === 0);
      flat.next.push(j + 1 < s.timestamps.length ? i + 1 : -1);
      flat.length += 1;
    });
  }
  return encodeFlatSamples(flat);
}

/**
 * Encodes a `WriteRequest` in the protobuf wire format: one `TimeSeries` per series, its
 * labels copied from the pre-encoded field, its samples in chain order. Values are written
 * as IEEE 754 doubles; stale samples with the stale-marker bits (JavaScript cannot be trusted
 * to keep a NaN's payload through arithmetic).
 */
export function encodeFlatSamples(samples: FlatSamples): Uint8Array {
  const { labels, values, timestamps, stale, first, next } = samples;
  const bodies = new Array<number>(samples.length);
  let total = 0;
  for (let i = 0; i < samples.length; i += 1) {
    if (first[i] !== true) continue;
    let body = labels[i]?.length ?? 0;
    for (let j = i; j >= 0; j = next[j] ?? -1) {
      const size = sampleSize(timestamps[j] ?? 0);
      body += 2 + size; // tag, one-byte length (a sample is at most 20 bytes), sample
    }
    bodies[i] = body;
    total += 1 + varintSize(body) + body;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const body = bodies[i];
    const series = labels[i];
    if (body === undefined || series === undefined) continue;
    out[at++] = TAG_1_LEN;
    at = writeVarint(out, at, body);
    out.set(series, at);
    at += series.length;
    for (let j = i; j >= 0; j = next[j] ?? -1) {
      const timestamp = timestamps[j] ?? 0;
      out[at++] = TAG_2_LEN;
      out[at++] = sampleSize(timestamp);
      out[at++] = TAG_VALUE;
      if (stale[j] === true) view.setBigUint64(at, STALE_NAN_BITS, true);
      else view.setFloat64(at, values[j] ?? 0, true);
      at += 8;
      out[at++] = TAG_TIMESTAMP;
      at = writeInt64(out, at, timestamp);
    }
  }
  return out;
}
