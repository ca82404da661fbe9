/**
 * Decoding of the varbinds net-snmp hands back (RFC 3416 §3 value types): integers arrive as
 * numbers, Counter64 and OCTET STRING as byte buffers, errors as the exception types
 * noSuchObject, noSuchInstance and endOfMibView. Pure: no I/O, no node: imports.
 */

/** ASN.1 / SMIv2 tags of the value types, as net-snmp numbers them (`snmp.ObjectType`). */
export const SNMP_TYPE = {
  Boolean: 1,
  Integer: 2,
  OctetString: 4,
  Null: 5,
  OID: 6,
  IpAddress: 64,
  Counter32: 65,
  Gauge32: 66,
  TimeTicks: 67,
  Opaque: 68,
  Counter64: 70,
  NoSuchObject: 128,
  NoSuchInstance: 129,
  EndOfMibView: 130,
} as const;

/** A varbind as the client returns it: net-snmp's `{ oid, type, value }`. */
export interface RawVarbind {
  readonly oid: string;
  readonly type: number;
  readonly value: unknown;
}

/** A decoded value. Counter64 is a bigint: it does not fit a double above 2^53. */
export type SnmpValue =
  | { readonly kind: 'integer' | 'counter32' | 'gauge32' | 'timeticks'; readonly value: number }
  | { readonly kind: 'counter64'; readonly value: bigint }
  | { readonly kind: 'octets'; readonly bytes: Uint8Array }
  | { readonly kind: 'oid' | 'ip'; readonly value: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' };

/** Why a varbind carries no usable value. */
export type VarbindProblem =
  'no_such_object' | 'no_such_instance' | 'end_of_mib_view' | 'malformed' | 'not_a_number' | 'not_an_integer';

/** A decoded varbind: its value, or the problem that stands in its place. */
export type DecodedVarbind =
  | { readonly ok: true; readonly oid: string; readonly value: SnmpValue }
  | { readonly ok: false; readonly oid: string; readonly problem: VarbindProblem; readonly detail: string };

const TWO_POW_32 = 2 ** 32;

/** Where a Counter32 wraps to zero: its largest value plus one (RFC 2578 §7.1.6). */
export const COUNTER32_MODULUS = 2n ** 32n;
/** Where a Counter64 wraps to zero (RFC 2578 §7.1.10). */
export const COUNTER64_MODULUS = 2n ** 64n;

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function malformed(oid: string, detail: string): DecodedVarbind {
  return { ok: false, oid, problem: 'malformed', detail };
}

/** Counter64 as a big-endian unsigned integer of at most 8 significant bytes. */
export function decodeCounter64(bytes: Uint8Array): bigint | undefined {
  let start = 0;
  // BER keeps a leading zero byte when the top bit is set: 9 bytes for values >= 2^63.
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  if (bytes.length === 0 || bytes.length - start > 8) return undefined;
  let value = 0n;
  for (let i = start; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

/** Decodes one varbind, turning the exception types and impossible values into problems. */
export function decodeVarbind(raw: RawVarbind): DecodedVarbind {
  const { oid, type, value } = raw;
  switch (type) {
    case SNMP_TYPE.NoSuchObject:
      return { ok: false, oid, problem: 'no_such_object', detail: 'noSuchObject' };
    case SNMP_TYPE.NoSuchInstance:
      return { ok: false, oid, problem: 'no_such_instance', detail: 'noSuchInstance' };
    case SNMP_TYPE.EndOfMibView:
      return { ok: false, oid, problem: 'end_of_mib_view', detail: 'endOfMibView' };
    case SNMP_TYPE.Integer:
    case SNMP_TYPE.Counter32:
    case SNMP_TYPE.Gauge32:
    case SNMP_TYPE.TimeTicks: {
      if (typeof value !== 'number' || !Number.isInteger(value))
        return malformed(oid, `type ${type} with a non-integer value`);
      const unsigned = type !== SNMP_TYPE.Integer;
      if (unsigned ? value < 0 || value >= TWO_POW_32 : value < -(2 ** 31) || value >= 2 ** 31)
        return malformed(oid, `type ${type} value ${value} out of range`);
      const kind =
        type === SNMP_TYPE.Integer
          ? 'integer'
          : type === SNMP_TYPE.Counter32
            ? 'counter32'
            : type === SNMP_TYPE.Gauge32
              ? 'gauge32'
              : 'timeticks';
      return { ok: true, oid, value: { kind, value } };
    }
    case SNMP_TYPE.Counter64: {
      if (!isBytes(value)) return malformed(oid, 'Counter64 without a byte value');
      const decoded = decodeCounter64(value);
      if (decoded === undefined) return malformed(oid, `Counter64 of ${value.length} bytes`);
      return { ok: true, oid, value: { kind: 'counter64', value: decoded } };
    }
    case SNMP_TYPE.OctetString:
    case SNMP_TYPE.Opaque:
      if (typeof value === 'string')
        return { ok: true, oid, value: { kind: 'octets', bytes: new TextEncoder().encode(value) } };
      if (!isBytes(value)) return malformed(oid, 'OCTET STRING without a byte value');
      return { ok: true, oid, value: { kind: 'octets', bytes: value } };
    case SNMP_TYPE.OID:
    case SNMP_TYPE.IpAddress:
      if (typeof value !== 'string') return malformed(oid, `type ${type} without a string value`);
      return { ok: true, oid, value: { kind: type === SNMP_TYPE.OID ? 'oid' : 'ip', value } };
    case SNMP_TYPE.Boolean:
      if (typeof value !== 'boolean') return malformed(oid, 'Boolean without a boolean value');
      return { ok: true, oid, value: { kind: 'boolean', value } };
    case SNMP_TYPE.Null:
      return { ok: true, oid, value: { kind: 'null' } };
    default:
      return malformed(oid, `unknown type ${type}`);
  }
}

/** Control characters other than tab and line breaks mean binary data (a MAC address, a bitmap). */
function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && code !== 9 && code !== 10 && code !== 13) || code === 127) return false;
  }
  return true;
}

const NUMERIC_TEXT = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The number a value stands for: integers as they are, Counter64 as a bigint, and an OCTET
 * STRING holding a decimal number (`"12.5"`, as UCD-SNMP-MIB laLoad) parsed. Undefined for
 * anything else.
 */
export function toMetricNumber(value: SnmpValue): number | bigint | undefined {
  switch (value.kind) {
    case 'integer':
    case 'counter32':
    case 'gauge32':
    case 'timeticks':
    case 'counter64':
      return value.value;
    case 'boolean':
      return value.value ? 1 : 0;
    case 'octets': {
      const text = decodeText(value.bytes);
      if (text === undefined || !NUMERIC_TEXT.test(text)) return undefined;
      return Number(text);
    }
    default:
      return undefined;
  }
}

/** Where a Counter value wraps, or undefined for values that are not Counters. */
export function counterModulus(value: SnmpValue): bigint | undefined {
  if (value.kind === 'counter32') return COUNTER32_MODULUS;
  if (value.kind === 'counter64') return COUNTER64_MODULUS;
  return undefined;
}

/** Printable UTF-8 text of a byte string, trailing NULs removed; undefined when it is binary. */
export function decodeText(bytes: Uint8Array): string | undefined {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, end));
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
  return isPrintable(text) ? text : undefined;
}

/** Bytes as `0a:1b:2c`, the way binary strings such as MAC addresses are shown. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** The string an attribute takes from a value: text as it is, binary strings in hex. */
export function toAttributeString(value: SnmpValue): string {
  switch (value.kind) {
    case 'octets':
      return decodeText(value.bytes) ?? toHex(value.bytes);
    case 'counter64':
      return value.value.toString();
    case 'null':
      return '';
    default:
      return String(value.value);
  }
}
