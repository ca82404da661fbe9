import type { Attributes } from '@opentelemetry/api';
import type { Resource as SdkResource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AnyValue,
  ArrayValue,
  InstrumentationScope,
  KeyValue,
  KeyValueList,
  Resource,
  WireType,
} from './fields.ts';
import { WireReader } from './wire-reader.ts';

/**
 * The messages of `opentelemetry/proto/common/v1/common.proto` and
 * `resource/v1/resource.proto` — AnyValue, KeyValue, InstrumentationScope, Resource — that
 * every signal's request holds, decoded into the SDK's attribute values. The metrics decoder
 * (decode.ts) extends it.
 *
 * Attribute values keep their shape: arrays stay arrays, a key-value list becomes a plain
 * object, bytes stay `Uint8Array` (the official serializer writes them back as they came).
 * An empty AnyValue becomes null inside a list or map and leaves the attribute out at the top.
 * 64-bit integers beyond 2^53 lose precision (JavaScript numbers). A field that occurs twice in
 * one message is merged, as protobufjs merges it.
 */

/** An AnyValue being decoded (occurrences of the same field merge, as in protobufjs). */
export interface AnyState {
  /** The AnyValue field set last (0: none). */
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

/** The attribute value of a decoded AnyValue (null for none). */
function anyValueOf(state: AnyState): unknown {
  switch (state.kind) {
    case AnyValue.string_value:
      return state.string;
    case AnyValue.bool_value:
      return state.bool;
    case AnyValue.int_value:
      return state.int;
    case AnyValue.double_value:
      return state.double;
    case AnyValue.array_value:
      return state.array ?? [];
    case AnyValue.kvlist_value: {
      const out: Record<string, unknown> = {};
      for (const [key, value] of state.kvlist ?? []) out[key] = value;
      return out;
    }
    case AnyValue.bytes_value:
      return state.bytes ?? new Uint8Array(0);
    default:
      return null;
  }
}

/** JSON for a value the SDK's Resource cannot hold, with bytes as base64. */
function toJsonString(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
  );
}

/**
 * A resource attribute value. The SDK's Resource keeps only strings, booleans, numbers and
 * arrays of one of them: anything else (a key-value list, bytes, a mixed array) is kept as a
 * JSON string rather than lost.
 */
export function toResourceValue(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    const kinds = new Set(value.filter((v) => v !== null).map((v) => typeof v));
    const [kind] = kinds;
    if (
      kinds.size <= 1 &&
      (kind === undefined || kind === 'string' || kind === 'number' || kind === 'boolean')
    )
      return value;
  }
  return toJsonString(value);
}

/** An InstrumentationScope's name and version (its attributes have no place in the SDK's scope). */
export interface ScopeFields {
  name: string;
  version: string;
}

export class CommonDecoder extends WireReader {
  /** Resources by their encoded bytes and schema URL (bounded), kept between requests. */
  readonly #resources: Map<string, SdkResource> | undefined;

  constructor(buf: Buffer, path: readonly string[], resources: Map<string, SdkResource> | undefined) {
    super(buf, path);
    this.#resources = resources;
  }

  /** AnyValue fields into `state` (a repeated occurrence merges). */
  protected anyValue(state: AnyState, depth: number): void {
    const outer = this.enter(depth, 'AnyValue');
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      switch (field) {
        case AnyValue.string_value:
          if (type !== WireType.LEN) break;
          state.string = this.string();
          state.kind = field;
          continue;
        case AnyValue.bool_value:
          if (type !== WireType.VARINT) break;
          state.bool = this.bool();
          state.kind = field;
          continue;
        case AnyValue.int_value:
          if (type !== WireType.VARINT) break;
          state.int = this.int64();
          state.kind = field;
          continue;
        case AnyValue.double_value:
          if (type !== WireType.I64) break;
          state.double = this.double();
          state.kind = field;
          continue;
        case AnyValue.array_value:
          if (type !== WireType.LEN) break;
          state.array ??= [];
          this.#arrayValue(state.array, depth + 1);
          state.kind = field;
          continue;
        case AnyValue.kvlist_value:
          if (type !== WireType.LEN) break;
          state.kvlist ??= [];
          this.#keyValueList(state.kvlist, depth + 1);
          state.kind = field;
          continue;
        case AnyValue.bytes_value:
          if (type !== WireType.LEN) break;
          state.bytes = this.bytes();
          state.kind = field;
          continue;
      }
      this.skip(type, field, depth);
    }
    this.leave(outer);
  }

  /** ArrayValue: its values appended to `out`. */
  #arrayValue(out: unknown[], depth: number): void {
    const outer = this.enter(depth, 'ArrayValue');
    while (this.pos < this.len) {
      const tag = this.tag();
      if (tag >>> 3 === ArrayValue.values && (tag & 7) === WireType.LEN) {
        const element = newAnyState();
        this.anyValue(element, depth + 1);
        out.push(anyValueOf(element));
      } else this.skip(tag & 7, tag >>> 3, depth);
    }
    this.leave(outer);
  }

  /** KeyValueList: its entries appended to `out`. */
  #keyValueList(out: [string, unknown][], depth: number): void {
    const outer = this.enter(depth, 'KeyValueList');
    while (this.pos < this.len) {
      const tag = this.tag();
      if (tag >>> 3 === KeyValueList.values && (tag & 7) === WireType.LEN) {
        const [key, value] = this.keyValue(depth + 1);
        out.push([key, value === undefined ? null : anyValueOf(value)]);
      } else this.skip(tag & 7, tag >>> 3, depth);
    }
    this.leave(outer);
  }

  /** One KeyValue: its key and its value (undefined when absent). */
  protected keyValue(depth: number): [string, AnyState | undefined] {
    const outer = this.enter(depth, 'KeyValue');
    let key = '';
    let value: AnyState | undefined;
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === KeyValue.key && type === WireType.LEN) key = this.string();
      else if (field === KeyValue.value && type === WireType.LEN) {
        value ??= newAnyState();
        this.anyValue(value, depth + 1);
      } else this.skip(type, field, depth);
    }
    this.leave(outer);
    return [key, value];
  }

  /**
   * Repeated KeyValue fields whose tags' ends are at `ranges` → attributes (a key without a
   * value is left out); `simple` when no value is an object (array, map, bytes).
   */
  protected attributesAt(
    ranges: readonly number[],
    depth: number,
  ): { attributes: Attributes; simple: boolean } {
    const saved = this.pos;
    const savedLen = this.len;
    const out: Attributes = {};
    let simple = true;
    for (const start of ranges) {
      this.pos = start;
      const [key, state] = this.keyValue(depth);
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

  /** InstrumentationScope fields into `scope` (merging); its attributes are checked and dropped. */
  protected instrumentationScope(scope: ScopeFields, depth: number): void {
    const outer = this.enter(depth, 'InstrumentationScope');
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === InstrumentationScope.name && type === WireType.LEN) scope.name = this.string();
      else if (field === InstrumentationScope.version && type === WireType.LEN) scope.version = this.string();
      else if (field === InstrumentationScope.attributes && type === WireType.LEN) this.keyValue(depth + 1);
      else if (field === InstrumentationScope.dropped_attributes_count && type === WireType.VARINT)
        this.uint32();
      else this.skip(type, field, depth);
    }
    this.leave(outer);
  }

  /** Resource fields: the tag ends of its attributes appended to `attributes` (merging occurrences). */
  protected resourceFields(attributes: number[], depth: number): void {
    const outer = this.enter(depth, 'Resource');
    while (this.pos < this.len) {
      const tag = this.tag();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === Resource.attributes && type === WireType.LEN) {
        attributes.push(this.pos);
        this.pos = this.end();
      } else if (field === Resource.dropped_attributes_count && type === WireType.VARINT) this.uint32();
      else this.skip(type, field, depth);
    }
    this.leave(outer);
  }

  /**
   * The SDK Resource of the attributes at `attributeRanges`, shared between requests whose
   * resource bytes (`key`, when the resource came in one field) and schema URL are the same.
   */
  protected resource(
    attributeRanges: readonly number[],
    key: string | undefined,
    schemaUrl: string,
    depth: number,
  ): SdkResource {
    const resources = this.#resources;
    const cacheKey = key === undefined ? undefined : `${schemaUrl}\u0000${key}`;
    if (cacheKey !== undefined) {
      const cached = resources?.get(cacheKey);
      if (cached !== undefined) return cached;
    }
    const { attributes: raw } = this.attributesAt(attributeRanges, depth);
    const attributes: Attributes = {};
    for (const [k, value] of Object.entries(raw)) attributes[k] = toResourceValue(value);
    const resource = resourceFromAttributes(attributes, schemaUrl ? { schemaUrl } : {});
    if (cacheKey !== undefined && resources !== undefined) {
      if (resources.size >= 4096) resources.clear();
      resources.set(cacheKey, resource);
    }
    return resource;
  }
}
