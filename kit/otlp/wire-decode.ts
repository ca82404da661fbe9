import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DecodedRequest } from './decode.ts';
import { toResourceValue } from './decode.ts';
import { FLAG_NO_RECORDED_VALUE, OTLP_TEMPORALITY } from './proto.ts';
import { bitsToHrTime } from './time.ts';

/**
 * The OTLP `ExportMetricsServiceRequest` protobuf decoded straight from the wire into the
 * SDK's `ResourceMetrics`, in one pass: no intermediate message objects. It gives exactly
 * what `toResourceMetrics(decodeExportRequest(bytes))` gives (the same batches, points,
 * rejections, messages and counts; `wire-decode.test.ts` checks it), and throws where
 * protobufjs throws (truncated or malformed input, invalid UTF-8 in a string, a packed field
 * of the wrong length, nesting deeper than 100). Fields of an unexpected wire type are skipped
 * as unknown, and a message field that appears twice is merged, as protobufjs does.
 *
 * With an {@link AttributeCache}, data points whose attribute fields are byte for byte those
 * of an earlier point share one frozen attributes object, decoded once: the points of a
 * series arrive again in every export, so the keys and values are not decoded again, and the
 * exporters downstream can remember what they derived from an attribute set.
 */

const TWO_32 = 4_294_967_296;
const RECURSION_LIMIT = 100;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8; invalid text is the decoder's own rejection (an Error), not TextDecoder's TypeError. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new Error('invalid UTF-8 in a string field');
  }
}

function outOfRange(): RangeError {
  return new RangeError('index out of range');
}

interface CacheEntry {
  readonly bytes: Buffer;
  readonly attributes: Attributes;
  readonly next: CacheEntry | undefined;
}

/**
 * A bounded map of attribute fields' bytes to the frozen attributes they decode to, looked
 * up by a hash of the bytes (FNV-1a) and compared byte for byte: no key string is made.
 */
export class AttributeCache {
  readonly #max: number;
  #map = new Map<number, CacheEntry>();
  #size = 0;
  constructor(maxEntries = 65_536) {
    this.#max = maxEntries;
  }

  static #hash(buf: Buffer, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ (buf[i] ?? 0), 0x01000193);
    return hash >>> 0;
  }

  /** The attributes that `buf[start, end)` decodes to, when seen before. */
  get(buf: Buffer, start: number, end: number): Attributes | undefined {
    const length = end - start;
    for (
      let entry = this.#map.get(AttributeCache.#hash(buf, start, end));
      entry !== undefined;
      entry = entry.next
    ) {
      const bytes = entry.bytes;
      if (bytes.length !== length) continue;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (bytes[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return entry.attributes;
    }
    return undefined;
  }

  set(buf: Buffer, start: number, end: number, attributes: Attributes): void {
    // Cleared when full: the series that keep arriving come back at once.
    if (this.#size >= this.#max) {
      this.#map = new Map();
      this.#size = 0;
    }
    const hash = AttributeCache.#hash(buf, start, end);
    // A copy: the request's buffer is not kept alive by the cache.
    const bytes = Buffer.from(buf.subarray(start, end));
    this.#map.set(hash, { bytes, attributes, next: this.#map.get(hash) });
    this.#size += 1;
  }

  get size(): number {
    return this.#size;
  }
}

/** An AnyValue being decoded (occurrences of the same field merge, as in protobufjs). */
interface AnyState {
  /** The field set last: 0 none, 1 string … 7 bytes (the AnyValue field numbers). */
  kind: number;
  string: string;
  bool: boolean;
  int: number;
  double: number;
  bytes: Uint8Array | undefined;
  array: unknown[] | undefined;
  kvlist: [string, unknown][] | undefined;
}

function newAnyState(): AnyState {
  return {
    kind: 0,
    string: '',
    bool: false,
    int: 0,
    double: 0,
    bytes: undefined,
    array: undefined,
    kvlist: undefined,
  };
}

/** The attribute value of an AnyValue, as `toAnyValue` makes it (null for none). */
function anyValueOf(state: AnyState): unknown {
  switch (state.kind) {
    case 1:
      return state.string;
    case 2:
      return state.bool;
    case 3:
      return state.int;
    case 4:
      return state.double;
    case 5:
      return state.array ?? [];
    case 6: {
      const out: Record<string, unknown> = {};
      for (const [key, value] of state.kvlist ?? []) out[key] = value;
      return out;
    }
    case 7:
      return state.bytes ?? new Uint8Array(0);
    default:
      return null;
  }
}

/** Ranges of the data fields of one metric, by kind. */
interface MetricFields {
  name: string;
  description: string;
  unit: string;
  /** 0 none, else the field number of the data set last (5 gauge, 7 sum, 9, 10, 11). */
  data: number;
  ranges: Map<number, number[]>;
}

/** Fields of one number, histogram or summary data point. */
interface PointFields {
  startLow: number;
  startHigh: number;
  timeLow: number;
  timeHigh: number;
  flags: number;
  exemplars: number;
  attributes: Attributes;
}

/** The last fixed64 time read (its two 32-bit halves) and its HrTime, shared while it repeats. */
class HrTimeSlot {
  #low = 0;
  #high = 0;
  #time: HrTime = [0, 0];

  of(low: number, high: number): HrTime {
    if (low === this.#low && high === this.#high) return this.#time;
    this.#low = low;
    this.#high = high;
    this.#time = bitsToHrTime(low, high);
    return this.#time;
  }
}

class WireDecoder {
  readonly #buf: Buffer;
  readonly #view: DataView;
  readonly #cache: AttributeCache | undefined;
  readonly #resources: Map<string, Resource> | undefined;
  /** Whether points are counted and converted (false: only validated). */
  readonly #live: boolean;
  pos = 0;
  /** End of the message being read. */
  len: number;
  points = 0;
  rejected = 0;
  exemplarsDropped = 0;
  noRecordedValue = 0;
  readonly errors = new Set<string>();
  // The points of a request mostly share one start and one end, which alternate point after
  // point, so each has its own slot.
  readonly #startTime = new HrTimeSlot();
  readonly #endTime = new HrTimeSlot();
  /** Ranges (start, end) of the attribute KeyValues of the point being read. */
  readonly #attributeRanges: number[] = [];
  readonly #fields: PointFields = {
    startLow: 0,
    startHigh: 0,
    timeLow: 0,
    timeHigh: 0,
    flags: 0,
    exemplars: 0,
    attributes: {},
  };

  constructor(
    buf: Buffer,
    cache: AttributeCache | undefined,
    resources: Map<string, Resource> | undefined,
    live: boolean,
  ) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.len = buf.length;
    this.#cache = cache;
    this.#resources = resources;
    this.#live = live;
  }

  /** A decoder over the same bytes that only validates (for data protobufjs decodes but the conversion ignores). */
  #validator(): WireDecoder {
    return new WireDecoder(this.#buf, undefined, undefined, false);
  }

  // ─── wire primitives ───────────────────────────────────────────────────────

  /**
   * The first four bytes of a varint (protobufjs's readers share them); the value so far in
   * #value, and true when the varint ended within them. Near the end of the message only
   * what is there is read.
   */
  #value = 0;
  #head(): boolean {
    const buf = this.#buf;
    if (this.len - this.pos < 5) {
      if (this.pos >= this.len) throw outOfRange();
      if ((buf[this.pos] ?? 0) >= 128) {
        let value = 0;
        for (let i = 0; i < 4; i++) {
          if (this.pos >= this.len) throw outOfRange();
          const byte = buf[this.pos++] ?? 0;
          value = (value | ((byte & 127) << (i * 7))) >>> 0;
          if (byte < 128) {
            this.#value = value;
            return true;
          }
        }
        throw outOfRange();
      }
    }
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const byte = buf[this.pos++] ?? 0;
      value = (value | ((byte & 127) << (i * 7))) >>> 0;
      if (byte < 128) {
        this.#value = value;
        return true;
      }
    }
    this.#value = value;
    return false;
  }

  /** A varint as protobufjs's uint32: the low 32 bits of at most 10 bytes. */
  uint32(): number {
    if (this.#head()) return this.#value;
    const buf = this.#buf;
    const byte = buf[this.pos++] ?? 0;
    const value = (this.#value | ((byte & 15) << 28)) >>> 0;
    if (byte < 128) return value;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.len) throw outOfRange();
      if ((buf[this.pos++] ?? 0) < 128) return value;
    }
    throw new Error('invalid varint encoding');
  }

  /** A field tag, as protobufjs's tag(): at most 5 bytes, the last without high bits. */
  tag(): number {
    if (this.#head()) return this.#value;
    const byte = this.#buf[this.pos++] ?? 0;
    if (byte < 128 && (byte & 112) === 0) return (this.#value | ((byte & 15) << 28)) >>> 0;
    throw new Error('invalid tag encoding');
  }

  /** A length, as protobufjs's size(): at most 5 bytes, below 2^31. */
  #size(): number {
    if (this.#head()) return this.#value;
    const byte = this.#buf[this.pos++] ?? 0;
    if (byte > 7) throw new Error('invalid length encoding');
    return (this.#value | (byte << 28)) >>> 0;
  }

  /** A bool, as protobufjs's bool(): true when any bit of the varint is set. */
  #bool(): boolean {
    let value = false;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.len) throw outOfRange();
      const byte = this.#buf[this.pos++] ?? 0;
      if ((byte & 127) !== 0) value = true;
      if (byte < 128) return value;
    }
    throw new Error('invalid varint encoding');
  }

  /** A 64-bit varint as two 32-bit halves, in #low/#high. */
  #low = 0;
  #high = 0;
  #varint64(): void {
    const buf = this.#buf;
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.len) throw outOfRange();
      const byte = buf[this.pos++] ?? 0;
      if (i < 4) low |= (byte & 127) << (i * 7);
      else if (i === 4) {
        low |= (byte & 127) << 28;
        high |= (byte & 127) >> 4;
      } else high |= (byte & 127) << ((i - 5) * 7 + 3);
      if (byte < 128) {
        this.#low = low >>> 0;
        this.#high = high >>> 0;
        return;
      }
    }
    throw new Error('invalid varint encoding');
  }

  /** A signed 64-bit varint (int64) as a number. */
  #int64(): number {
    this.#varint64();
    return (this.#high | 0) * TWO_32 + this.#low;
  }

  /** An unsigned 64-bit varint (uint64) as a number. */
  #uint64(): number {
    this.#varint64();
    return this.#high * TWO_32 + this.#low;
  }

  #need(bytes: number): void {
    if (this.pos + bytes > this.len) throw outOfRange();
  }

  /** fixed64 as two halves, in #low/#high. */
  #fixed64(): void {
    this.#need(8);
    this.#low = this.#view.getUint32(this.pos, true);
    this.#high = this.#view.getUint32(this.pos + 4, true);
    this.pos += 8;
  }

  #fixed64Number(): number {
    this.#fixed64();
    return this.#high * TWO_32 + this.#low;
  }

  #sfixed64Number(): number {
    this.#fixed64();
    return (this.#high | 0) * TWO_32 + this.#low;
  }

  #double(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** The end of a length-delimited field starting here (its length read). */
  #end(): number {
    const length = this.#size();
    const end = this.pos + length;
    if (end > this.len) throw outOfRange();
    return end;
  }

  /** A proto3 string: strict UTF-8, as protobufjs's stringVerify. */
  #string(): string {
    const end = this.#end();
    const start = this.pos;
    this.pos = end;
    const buf = this.#buf;
    for (let i = start; i < end; i++) {
      if ((buf[i] ?? 0) >= 128) return decodeUtf8(buf.subarray(start, end));
    }
    return buf.toString('latin1', start, end);
  }

  #bytes(): Uint8Array {
    const end = this.#end();
    const out = new Uint8Array(this.#buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  /** Skips a field as protobufjs's skipType does. */
  skip(wireType: number, field: number, depth: number): void {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    if (field === 0) throw new Error('illegal tag: field number 0');
    switch (wireType) {
      case 0:
        do {
          if (this.pos >= this.len) throw outOfRange();
        } while (((this.#buf[this.pos++] ?? 0) & 128) !== 0);
        return;
      case 1:
        this.#need(8);
        this.pos += 8;
        return;
      case 2:
        this.pos = this.#end();
        return;
      case 3:
        for (;;) {
          const tag = this.tag();
          const nested = tag >>> 3;
          const type = tag & 7;
          if (nested === 0) throw new Error('illegal tag: field number 0');
          if (type === 4) {
            if (nested !== field) throw new Error('invalid end group tag');
            return;
          }
          this.skip(type, nested, depth + 1);
        }
      case 5:
        this.#need(4);
        this.pos += 4;
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  /** Enters a length-delimited message; returns the enclosing end, to give to #leave. */
  #enter(depth: number): number {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    const end = this.#end();
    const outer = this.len;
    this.len = end;
    return outer;
  }

  #leave(outer: number): void {
    if (this.pos !== this.len) throw outOfRange();
    this.len = outer;
  }

  // ─── common messages ───────────────────────────────────────────────────────

  /** AnyValue fields into `state` (a repeated occurrence merges). */
  #anyValue(state: AnyState, depth: number): void {
    const outer = this.#enter(depth);
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      switch (field) {
        case 1:
          if (type !== 2) break;
          state.string = this.#string();
          state.kind = 1;
          continue;
        case 2:
          if (type !== 0) break;
          state.bool = this.#bool();
          state.kind = 2;
          continue;
        case 3:
          if (type !== 0) break;
          state.int = this.#int64();
          state.kind = 3;
          continue;
        case 4:
          if (type !== 1) break;
          state.double = this.#double();
          state.kind = 4;
          continue;
        case 5: {
          if (type !== 2) break;
          state.array ??= [];
          const inner = this.#enter(depth + 1);
          while (this.pos < this.len) {
            const t = this.tag();
            if (t >>> 3 === 1 && (t & 7) === 2) {
              const element = newAnyState();
              this.#anyValue(element, depth + 2);
              state.array.push(anyValueOf(element));
            } else this.skip(t & 7, t >>> 3, depth + 1);
          }
          this.#leave(inner);
          state.kind = 5;
          continue;
        }
        case 6: {
          if (type !== 2) break;
          state.kvlist ??= [];
          const inner = this.#enter(depth + 1);
          while (this.pos < this.len) {
            const t = this.tag();
            if (t >>> 3 === 1 && (t & 7) === 2) {
              const [key, value] = this.#keyValue(depth + 2);
              state.kvlist.push([key, value === undefined ? null : anyValueOf(value)]);
            } else this.skip(t & 7, t >>> 3, depth + 1);
          }
          this.#leave(inner);
          state.kind = 6;
          continue;
        }
        case 7:
          if (type !== 2) break;
          state.bytes = this.#bytes();
          state.kind = 7;
          continue;
      }
      this.skip(type, field, depth);
    }
    this.#leave(outer);
  }

  /** One KeyValue: its key and its value (undefined when absent). */
  #keyValue(depth: number): [string, AnyState | undefined] {
    const outer = this.#enter(depth);
    let key = '';
    let value: AnyState | undefined;
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 2) key = this.#string();
      else if (field === 2 && type === 2) {
        value ??= newAnyState();
        this.#anyValue(value, depth + 1);
      } else this.skip(type, field, depth);
    }
    this.#leave(outer);
    return [key, value];
  }

  /** Repeated KeyValue fields at `ranges` (tag offsets) → attributes, as `toAttributes`. */
  #attributesAt(ranges: readonly number[], depth: number): { attributes: Attributes; simple: boolean } {
    const saved = this.pos;
    const savedLen = this.len;
    const out: Attributes = {};
    let simple = true;
    for (const start of ranges) {
      this.pos = start;
      const [key, state] = this.#keyValue(depth);
      const value = state === undefined ? null : anyValueOf(state);
      if (value !== null) {
        out[key] = value;
        if (typeof value === 'object') simple = false;
      }
      this.len = savedLen;
    }
    this.pos = saved;
    this.len = savedLen;
    return { attributes: out, simple };
  }

  /** A point's attributes from the KeyValue ranges gathered while reading it. */
  #pointAttributes(first: number, last: number, contiguous: boolean, depth: number): Attributes {
    const ranges = this.#attributeRanges;
    if (ranges.length === 0) return {};
    const cache = contiguous ? this.#cache : undefined;
    const cached = cache?.get(this.#buf, first, last);
    if (cached !== undefined) return cached;
    const { attributes, simple } = this.#attributesAt(ranges, depth);
    if (cache !== undefined && simple) {
      Object.freeze(attributes);
      cache.set(this.#buf, first, last, attributes);
    }
    return attributes;
  }

  /** Validates an Exemplar (protobufjs decodes it; the SDK model has no place for it). */
  #exemplar(depth: number): void {
    const outer = this.#enter(depth);
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 7 && type === 2) this.#keyValue(depth + 1);
      else if ((field === 4 || field === 5) && type === 2) this.pos = this.#end();
      else if ((field === 2 || field === 3 || field === 6) && type === 1) {
        this.#need(8);
        this.pos += 8;
      } else this.skip(type, field, depth);
    }
    this.#leave(outer);
  }

  /** Reads the common fields of a data point; `onField` takes the others (true when it read one). */
  #point(
    depth: number,
    attributesField: number,
    exemplarsField: number,
    flagsField: number,
    onField: (field: number, type: number) => boolean,
  ): PointFields {
    const outer = this.#enter(depth);
    const ranges = this.#attributeRanges;
    ranges.length = 0;
    let first = -1;
    let last = -1;
    let contiguous = true;
    let startLow = 0;
    let startHigh = 0;
    let timeLow = 0;
    let timeHigh = 0;
    let flags = 0;
    let exemplars = 0;
    while (this.pos < this.len) {
      const tagStart = this.pos;
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === attributesField && type === 2) {
        ranges.push(this.pos);
        const end = this.#end();
        if (first < 0) first = tagStart;
        else if (last !== tagStart) contiguous = false;
        this.pos = end;
        last = end;
        continue;
      }
      if (field === 2 && type === 1) {
        this.#fixed64();
        startLow = this.#low;
        startHigh = this.#high;
        continue;
      }
      if (field === 3 && type === 1) {
        this.#fixed64();
        timeLow = this.#low;
        timeHigh = this.#high;
        continue;
      }
      if (field === flagsField && type === 0) {
        flags = this.uint32();
        continue;
      }
      if (field === exemplarsField && type === 2) {
        this.#exemplar(depth + 1);
        exemplars += 1;
        continue;
      }
      if (onField(field, type)) continue;
      this.skip(type, field, depth);
    }
    const attributes = this.#live
      ? this.#pointAttributes(first, last, contiguous, depth + 1)
      : this.#validateAttributes(depth + 1);
    this.pos = this.len;
    this.#leave(outer);
    // One object for every point: read before the next point is.
    const p = this.#fields;
    p.startLow = startLow;
    p.startHigh = startHigh;
    p.timeLow = timeLow;
    p.timeHigh = timeHigh;
    p.flags = flags;
    p.exemplars = exemplars;
    p.attributes = attributes;
    return p;
  }

  #validateAttributes(depth: number): Attributes {
    return this.#attributesAt(this.#attributeRanges, depth).attributes;
  }

  // ─── data points ───────────────────────────────────────────────────────────

  #numberPoints(
    name: string,
    ranges: readonly number[],
    depth: number,
  ): { dataPoints: DataPoint<number>[]; valueType: ValueType } {
    const dataPoints: DataPoint<number>[] = [];
    let allInt = true;
    let missing = 0;
    // Written by onField while a point is read.
    const v = { kind: 0, value: 0 };
    const onField = (field: number, type: number): boolean => {
      if (field === 4 && type === 1) {
        v.value = this.#double();
        v.kind = 4;
        return true;
      }
      if (field === 6 && type === 1) {
        v.value = this.#sfixed64Number();
        v.kind = 6;
        return true;
      }
      return false;
    };
    for (const start of ranges) {
      this.pos = start;
      v.kind = 0;
      v.value = 0;
      const p = this.#point(depth, 7, 5, 8, onField);
      this.exemplarsDropped += p.exemplars;
      const { kind, value } = v;
      if (kind === 6) {
        // as_int
      } else if (kind === 4) {
        allInt = false;
      } else if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      } else {
        missing += 1;
        continue;
      }
      dataPoints.push({
        startTime: this.#startTime.of(p.startLow, p.startHigh),
        endTime: this.#endTime.of(p.timeLow, p.timeHigh),
        attributes: p.attributes,
        value,
      });
    }
    this.#reject(missing, `metric "${name}": a number data point has no value`);
    return { dataPoints, valueType: allInt && dataPoints.length > 0 ? ValueType.INT : ValueType.DOUBLE };
  }

  /** A packed (or not) repeated fixed64 / double field into `out`. */
  #repeated64(type: number, out: number[], read: () => number): boolean {
    if (type === 1) {
      out.push(read());
      return true;
    }
    if (type !== 2) return false;
    const end = this.#end();
    const count = (end - this.pos) >>> 3;
    for (let i = 0; i < count; i++) out.push(read());
    if (this.pos !== end) throw outOfRange();
    return true;
  }

  #histogramPoints(name: string, ranges: readonly number[], depth: number): DataPoint<Histogram>[] {
    const out: DataPoint<Histogram>[] = [];
    let invalid = 0;
    // Written by onField while a point is read.
    const h: {
      count: number;
      sum: number | undefined;
      min: number | undefined;
      max: number | undefined;
      counts: number[];
      bounds: number[];
    } = { count: 0, sum: undefined, min: undefined, max: undefined, counts: [], bounds: [] };
    // A function, so that the reads after #point are not narrowed to the reset values.
    const reset = (): void => {
      h.count = 0;
      h.sum = h.min = h.max = undefined;
      h.counts = [];
      h.bounds = [];
    };
    const fixed = (): number => this.#fixed64Number();
    const double = (): number => this.#double();
    const onField = (field: number, type: number): boolean => {
      switch (field) {
        case 4:
          if (type !== 1) return false;
          h.count = this.#fixed64Number();
          return true;
        case 5:
          if (type !== 1) return false;
          h.sum = this.#double();
          return true;
        case 6:
          return this.#repeated64(type, h.counts, fixed);
        case 7:
          return this.#repeated64(type, h.bounds, double);
        case 11:
          if (type !== 1) return false;
          h.min = this.#double();
          return true;
        case 12:
          if (type !== 1) return false;
          h.max = this.#double();
          return true;
        default:
          return false;
      }
    };
    for (const start of ranges) {
      this.pos = start;
      reset();
      const p = this.#point(depth, 9, 8, 10, onField);
      this.exemplarsDropped += p.exemplars;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const { count, sum, min, max, counts, bounds } = h;
      if (counts.length !== 0 && counts.length !== bounds.length + 1) {
        invalid += 1;
        continue;
      }
      const value: Histogram = { buckets: { boundaries: bounds, counts }, count };
      if (sum !== undefined) value.sum = sum;
      if (min !== undefined) value.min = min;
      if (max !== undefined) value.max = max;
      out.push({
        startTime: this.#startTime.of(p.startLow, p.startHigh),
        endTime: this.#endTime.of(p.timeLow, p.timeHigh),
        attributes: p.attributes,
        value,
      });
    }
    this.#reject(
      invalid,
      `metric "${name}": histogram bucket_counts must have one more entry than explicit_bounds`,
    );
    return out;
  }

  /** ExponentialHistogramDataPoint.Buckets into `state` (merging). */
  #buckets(state: { offset: number; bucketCounts: number[] }, depth: number): void {
    const outer = this.#enter(depth);
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 0) {
        const n = this.uint32();
        state.offset = (n >>> 1) ^ -(n & 1);
      } else if (field === 2 && type === 0) state.bucketCounts.push(this.#uint64());
      else if (field === 2 && type === 2) {
        const end = this.#end();
        const inner = this.len;
        this.len = end;
        while (this.pos < end) state.bucketCounts.push(this.#uint64());
        if (this.pos !== end) throw outOfRange();
        this.len = inner;
      } else this.skip(type, field, depth);
    }
    this.#leave(outer);
  }

  #exponentialPoints(ranges: readonly number[], depth: number): DataPoint<ExponentialHistogram>[] {
    const out: DataPoint<ExponentialHistogram>[] = [];
    type Buckets = { offset: number; bucketCounts: number[] };
    // Written by onField while a point is read.
    const e: {
      count: number;
      sum: number | undefined;
      min: number | undefined;
      max: number | undefined;
      scale: number;
      zeroCount: number;
      positive: Buckets;
      negative: Buckets;
    } = {
      count: 0,
      sum: undefined,
      min: undefined,
      max: undefined,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 0, bucketCounts: [] },
      negative: { offset: 0, bucketCounts: [] },
    };
    // A function, so that the reads after #point are not narrowed to the reset values.
    const reset = (): void => {
      e.count = e.zeroCount = e.scale = 0;
      e.sum = e.min = e.max = undefined;
      e.positive = { offset: 0, bucketCounts: [] };
      e.negative = { offset: 0, bucketCounts: [] };
    };
    const onField = (field: number, type: number): boolean => {
      switch (field) {
        case 4:
          if (type !== 1) return false;
          e.count = this.#fixed64Number();
          return true;
        case 5:
          if (type !== 1) return false;
          e.sum = this.#double();
          return true;
        case 6: {
          if (type !== 0) return false;
          const n = this.uint32();
          e.scale = (n >>> 1) ^ -(n & 1);
          return true;
        }
        case 7:
          if (type !== 1) return false;
          e.zeroCount = this.#fixed64Number();
          return true;
        case 8:
          if (type !== 2) return false;
          this.#buckets(e.positive, depth + 1);
          return true;
        case 9:
          if (type !== 2) return false;
          this.#buckets(e.negative, depth + 1);
          return true;
        case 12:
          if (type !== 1) return false;
          e.min = this.#double();
          return true;
        case 13:
          if (type !== 1) return false;
          e.max = this.#double();
          return true;
        default:
          return false;
      }
    };
    for (const start of ranges) {
      this.pos = start;
      reset();
      const p = this.#point(depth, 1, 11, 10, onField);
      this.exemplarsDropped += p.exemplars;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const { count, sum, min, max, scale, zeroCount, positive, negative } = e;
      const value: ExponentialHistogram = { count, scale, zeroCount, positive, negative };
      if (sum !== undefined) value.sum = sum;
      if (min !== undefined) value.min = min;
      if (max !== undefined) value.max = max;
      out.push({
        startTime: this.#startTime.of(p.startLow, p.startHigh),
        endTime: this.#endTime.of(p.timeLow, p.timeHigh),
        attributes: p.attributes,
        value,
      });
    }
    return out;
  }

  #summary(fields: MetricFields, ranges: readonly number[], depth: number): MetricData[] {
    const quantiles: DataPoint<number>[] = [];
    const sums: DataPoint<number>[] = [];
    const counts: DataPoint<number>[] = [];
    // Written by onField while a point is read.
    const q: { count: number; sum: number; values: [number, number][] } = { count: 0, sum: 0, values: [] };
    const onField = (field: number, type: number): boolean => {
      if (field === 4 && type === 1) {
        q.count = this.#fixed64Number();
        return true;
      }
      if (field === 5 && type === 1) {
        q.sum = this.#double();
        return true;
      }
      if (field === 6 && type === 2) {
        const outer = this.#enter(depth + 2);
        let quantile = 0;
        let value = 0;
        while (this.pos < this.len) {
          const tag = this.tag();
          if (tag >>> 3 === 1 && (tag & 7) === 1) quantile = this.#double();
          else if (tag >>> 3 === 2 && (tag & 7) === 1) value = this.#double();
          else this.skip(tag & 7, tag >>> 3, depth + 2);
        }
        this.#leave(outer);
        q.values.push([quantile, value]);
        return true;
      }
      return false;
    };
    for (const start of ranges) {
      this.pos = start;
      q.count = q.sum = 0;
      q.values = [];
      // A summary point has no exemplars field.
      const p = this.#point(depth, 7, -1, 8, onField);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.noRecordedValue += 1;
        continue;
      }
      const startTime = this.#startTime.of(p.startLow, p.startHigh);
      const endTime = this.#endTime.of(p.timeLow, p.timeHigh);
      const attributes = p.attributes;
      const { count, sum, values } = q;
      for (const [quantile, value] of values) {
        quantiles.push({
          startTime,
          endTime,
          attributes: { ...attributes, quantile: String(quantile) },
          value,
        });
      }
      sums.push({ startTime, endTime, attributes, value: sum });
      counts.push({ startTime, endTime, attributes, value: count });
    }
    const descriptor = (name: string, valueType: ValueType) => ({
      name,
      description: fields.description,
      unit: fields.unit,
      valueType,
    });
    const out: MetricData[] = [];
    if (quantiles.length > 0) {
      out.push({
        descriptor: descriptor(fields.name, ValueType.DOUBLE),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: quantiles,
      });
    }
    if (sums.length > 0) {
      out.push(
        {
          descriptor: descriptor(`${fields.name}.sum`, ValueType.DOUBLE),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: false,
          dataPoints: sums,
        },
        {
          descriptor: { ...descriptor(`${fields.name}.count`, ValueType.INT), unit: '{count}' },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: counts,
        },
      );
    }
    return out;
  }

  #reject(count: number, message: string): void {
    if (count <= 0 || !this.#live) return;
    this.rejected += count;
    this.errors.add(message);
  }

  // ─── metrics ───────────────────────────────────────────────────────────────

  /**
   * The data message(s) of one kind (Gauge, Sum, Histogram, …; occurrences merge): the tag
   * offsets of their data points, and their aggregation temporality and monotonicity.
   */
  #dataFields(
    kind: number,
    ranges: readonly number[],
    depth: number,
  ): { points: number[]; temporality: number; monotonic: boolean } {
    // Gauge and Summary have data points only; Sum adds is_monotonic to the histograms' temporality.
    const temporalityField = kind === 7 || kind === 9 || kind === 10 ? 2 : -1;
    const monotonicField = kind === 7 ? 3 : -1;
    const points: number[] = [];
    let temporality = 0;
    let monotonic = false;
    for (const start of ranges) {
      this.pos = start;
      const outer = this.#enter(depth);
      while (this.pos < this.len) {
        const tag = this.tag();
        const field = tag >>> 3;
        const type = tag & 7;
        if (field === 1 && type === 2) {
          points.push(this.pos);
          this.pos = this.#end();
        } else if (field === temporalityField && type === 0) temporality = this.uint32() | 0;
        else if (field === monotonicField && type === 0) monotonic = this.#bool();
        else this.skip(type, field, depth);
      }
      this.#leave(outer);
    }
    return { points, temporality, monotonic };
  }

  #temporality(value: number): AggregationTemporality | undefined {
    if (value === OTLP_TEMPORALITY.DELTA) return AggregationTemporality.DELTA;
    if (value === OTLP_TEMPORALITY.CUMULATIVE) return AggregationTemporality.CUMULATIVE;
    return undefined;
  }

  /** Validates data protobufjs would decode but the conversion does not use. */
  #validate(kind: number, ranges: readonly number[], depth: number): void {
    const validator = this.#validator();
    validator.#convert(
      kind,
      { name: 'x', description: '', unit: '', data: kind, ranges: new Map() },
      ranges,
      depth,
    );
  }

  /** Converts the data of one kind, with the metric's name, description and unit. */
  #convert(kind: number, fields: MetricFields, ranges: readonly number[], depth: number): MetricData[] {
    const { name } = fields;
    const descriptor = (valueType: ValueType) => ({
      name,
      description: fields.description,
      unit: fields.unit,
      valueType,
    });
    const data = this.#dataFields(kind, ranges, depth);
    const len = this.len;
    const points = data.points;
    const pointDepth = depth + 1;
    switch (kind) {
      case 5: {
        const { dataPoints, valueType } = this.#numberPoints(name, points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(valueType),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints,
          },
        ];
      }
      case 7: {
        const temporality = this.#temporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().#numberPoints(name, points, pointDepth);
          this.#reject(points.length, `metric "${name}": sum with unspecified aggregation_temporality`);
          return [];
        }
        const { dataPoints, valueType } = this.#numberPoints(name, points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(valueType),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.SUM,
            isMonotonic: data.monotonic,
            dataPoints,
          },
        ];
      }
      case 9: {
        const temporality = this.#temporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().#histogramPoints(name, points, pointDepth);
          this.#reject(points.length, `metric "${name}": histogram with unspecified aggregation_temporality`);
          return [];
        }
        const dataPoints = this.#histogramPoints(name, points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case 10: {
        const temporality = this.#temporality(data.temporality);
        if (temporality === undefined) {
          this.#validator().#exponentialPoints(points, pointDepth);
          this.#reject(
            points.length,
            `metric "${name}": exponential histogram with unspecified aggregation_temporality`,
          );
          return [];
        }
        const dataPoints = this.#exponentialPoints(points, pointDepth);
        this.len = len;
        return [
          {
            descriptor: descriptor(ValueType.DOUBLE),
            aggregationTemporality: temporality,
            dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
            dataPoints,
          },
        ];
      }
      case 11: {
        const out = this.#summary(fields, points, pointDepth);
        this.len = len;
        return out;
      }
      default:
        return [];
    }
  }

  /** One Metric message → its SDK metrics (several for a summary, none when rejected). */
  #metric(depth: number): MetricData[] {
    const outer = this.#enter(depth);
    const fields: MetricFields = { name: '', description: '', unit: '', data: 0, ranges: new Map() };
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (type === 2 && field >= 1 && field <= 3) {
        const text = this.#string();
        if (field === 1) fields.name = text;
        else if (field === 2) fields.description = text;
        else fields.unit = text;
        continue;
      }
      if (type === 2 && (field === 5 || field === 7 || field === 9 || field === 10 || field === 11)) {
        let list = fields.ranges.get(field);
        if (list === undefined) {
          list = [];
          fields.ranges.set(field, list);
        }
        list.push(this.pos);
        fields.data = field;
        this.pos = this.#end();
        continue;
      }
      if (type === 2 && field === 12) {
        this.#keyValue(depth + 1);
        continue;
      }
      this.skip(type, field, depth);
    }
    const end = this.len;
    let out: MetricData[] = [];
    for (const [kind, ranges] of fields.ranges) {
      if (kind !== fields.data) this.#validate(kind, ranges, depth + 1);
    }
    const ranges = fields.ranges.get(fields.data) ?? [];
    if (fields.data !== 0) {
      if (fields.name === '') {
        this.#validate(fields.data, ranges, depth + 1);
        this.len = end;
        this.#reject(this.#countPoints(fields.data, ranges, depth + 1), 'a metric has no name');
      } else out = this.#convert(fields.data, fields, ranges, depth + 1);
    }
    this.pos = end;
    this.len = end;
    this.#leave(outer);
    return out;
  }

  #countPoints(kind: number, ranges: readonly number[], depth: number): number {
    const saved = this.len;
    const n = this.#dataFields(kind, ranges, depth).points.length;
    this.len = saved;
    return n;
  }

  /** InstrumentationScope fields into `scope` (merging). */
  #scope(scope: { name: string; version: string }, depth: number): void {
    const outer = this.#enter(depth);
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 2) scope.name = this.#string();
      else if (field === 2 && type === 2) scope.version = this.#string();
      else if (field === 3 && type === 2) this.#keyValue(depth + 1);
      else if (field === 4 && type === 0) this.uint32();
      else this.skip(type, field, depth);
    }
    this.#leave(outer);
  }

  #scopeMetrics(depth: number): ScopeMetrics {
    const outer = this.#enter(depth);
    const scope = { name: '', version: '' };
    let schemaUrl = '';
    const metrics: MetricData[] = [];
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 2) {
        this.#scope(scope, depth + 1);
      } else if (field === 2 && type === 2) {
        for (const converted of this.#metric(depth + 1)) {
          if (converted.dataPoints.length === 0) continue;
          this.points += converted.dataPoints.length;
          metrics.push(converted);
        }
      } else if (field === 3 && type === 2) schemaUrl = this.#string();
      else this.skip(type, field, depth);
    }
    this.#leave(outer);
    const out: { name: string; version?: string; schemaUrl?: string } = { name: scope.name };
    if (scope.version) out.version = scope.version;
    if (schemaUrl) out.schemaUrl = schemaUrl;
    return { scope: out, metrics };
  }

  /** Resource fields: the tag offsets of its attributes (merging occurrences). */
  #resourceFields(attributes: number[], depth: number): void {
    const outer = this.#enter(depth);
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 2) {
        attributes.push(this.pos);
        this.pos = this.#end();
      } else if (field === 2 && type === 0) this.uint32();
      else this.skip(type, field, depth);
    }
    this.#leave(outer);
  }

  #resource(
    attributeRanges: readonly number[],
    key: string | undefined,
    schemaUrl: string,
    depth: number,
  ): Resource {
    const resources = this.#resources;
    const cacheKey = key === undefined ? undefined : `${schemaUrl}\u0000${key}`;
    if (cacheKey !== undefined) {
      const cached = resources?.get(cacheKey);
      if (cached !== undefined) return cached;
    }
    const { attributes: raw } = this.#attributesAt(attributeRanges, depth);
    const attributes: Attributes = {};
    for (const [k, value] of Object.entries(raw)) attributes[k] = toResourceValue(value);
    const resource = resourceFromAttributes(attributes, schemaUrl ? { schemaUrl } : {});
    if (cacheKey !== undefined && resources !== undefined) {
      if (resources.size >= 4096) resources.clear();
      resources.set(cacheKey, resource);
    }
    return resource;
  }

  resourceMetrics(depth: number): ResourceMetrics {
    const outer = this.#enter(depth);
    const attributeRanges: number[] = [];
    let resourceSpan: [number, number] | undefined;
    let resourceFieldCount = 0;
    let schemaUrl = '';
    const scopeMetrics: ScopeMetrics[] = [];
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 1 && type === 2) {
        const start = this.pos;
        this.#resourceFields(attributeRanges, depth + 1);
        resourceSpan = [start, this.pos];
        resourceFieldCount += 1;
      } else if (field === 2 && type === 2) {
        scopeMetrics.push(this.#scopeMetrics(depth + 1));
      } else if (field === 3 && type === 2) schemaUrl = this.#string();
      else this.skip(type, field, depth);
    }
    const end = this.len;
    const key =
      resourceFieldCount === 1 && resourceSpan !== undefined
        ? this.#buf.toString('latin1', resourceSpan[0], resourceSpan[1])
        : undefined;
    const resource = this.#resource(attributeRanges, key, schemaUrl, depth + 2);
    this.pos = end;
    this.len = end;
    this.#leave(outer);
    return { resource, scopeMetrics: scopeMetrics.filter((s) => s.metrics.length > 0) };
  }
}

/** What a receiver keeps between requests to decode them faster. */
export interface WireDecodeCaches {
  readonly attributes?: AttributeCache;
  /** Resources by their encoded bytes (bounded). */
  readonly resources?: Map<string, Resource>;
}

/**
 * Decodes `ExportMetricsServiceRequest` protobuf bytes into SDK batches (one per OTLP
 * ResourceMetrics that has points), with the rejected points counted and described.
 * Throws on malformed input.
 */
export function decodeMetricsRequest(bytes: Uint8Array, caches: WireDecodeCaches = {}): DecodedRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new WireDecoder(buf, caches.attributes, caches.resources, true);
  const batches: ResourceMetrics[] = [];
  while (decoder.pos < decoder.len) {
    const tag = decoder.tag();
    const field = tag >>> 3;
    const type = tag & 7;
    if (field === 1 && type === 2) {
      const batch = decoder.resourceMetrics(1);
      if (batch.scopeMetrics.length > 0) batches.push(batch);
    } else decoder.skip(type, field, 0);
  }
  return {
    batches,
    points: decoder.points,
    rejected: decoder.rejected,
    errors: [...decoder.errors],
    exemplarsDropped: decoder.exemplarsDropped,
    noRecordedValue: decoder.noRecordedValue,
  };
}
