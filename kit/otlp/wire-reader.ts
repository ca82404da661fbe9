import { OtlpDecodeError } from '../errors.ts';
import { fieldName, WireType } from './fields.ts';

/**
 * The protobuf wire format read from a buffer (https://protobuf.dev/programming-guides/encoding/):
 * varints, fixed-width numbers, length-delimited fields and nested messages, with the checks
 * protobufjs's reader makes, so that the decoder accepts and rejects the inputs protobufjs
 * accepts and rejects. A malformed input throws an {@link OtlpDecodeError} naming the message
 * and field being read and the byte offset.
 *
 * The message decoders extend this class: the hot loops then read `this.pos` and call the
 * primitives without an indirection.
 */

const TWO_32 = 4_294_967_296;
/** Nesting limit of protobufjs's decoder. */
export const RECURSION_LIMIT = 100;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class WireReader {
  protected readonly buf: Buffer;
  protected readonly view: DataView;
  /** Where the next byte is read. */
  pos = 0;
  /** End of the message being read. */
  len: number;
  /** The messages entered (their names), for errors: `path[0 .. level)`. */
  protected readonly path: string[];
  protected level: number;
  /** Field number of the last tag read, for errors. */
  protected field = 0;
  /** Out values of the varint and fixed64 readers. */
  protected value = 0;
  protected low = 0;
  protected high = 0;

  constructor(buf: Buffer, path: readonly string[]) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.len = buf.length;
    this.path = [...path];
    this.level = path.length;
  }

  /** A decoding error at the current position, located by message, field and byte offset. */
  error(detail: string): OtlpDecodeError {
    const message = this.path[this.level - 1] ?? '';
    const where = this.path.slice(0, this.level).join('/');
    const field = this.field === 0 ? where : `${where}.${fieldName(message, this.field)}`;
    return new OtlpDecodeError(field, this.pos, detail);
  }

  protected truncated(): OtlpDecodeError {
    return this.error('truncated: a field runs past the end of its message');
  }

  /**
   * The first four bytes of a varint; the value so far in `value`, and true when the varint
   * ended within them. Near the end of the message only what is there is read.
   */
  #head(): boolean {
    const buf = this.buf;
    if (this.len - this.pos < 5) {
      if (this.pos >= this.len) throw this.truncated();
      if ((buf[this.pos] ?? 0) >= 128) {
        let value = 0;
        for (let i = 0; i < 4; i++) {
          if (this.pos >= this.len) throw this.truncated();
          const byte = buf[this.pos++] ?? 0;
          value = (value | ((byte & 127) << (i * 7))) >>> 0;
          if (byte < 128) {
            this.value = value;
            return true;
          }
        }
        throw this.truncated();
      }
    }
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const byte = buf[this.pos++] ?? 0;
      value = (value | ((byte & 127) << (i * 7))) >>> 0;
      if (byte < 128) {
        this.value = value;
        return true;
      }
    }
    this.value = value;
    return false;
  }

  /** A varint as protobufjs's uint32: the low 32 bits of at most 10 bytes. */
  uint32(): number {
    if (this.#head()) return this.value;
    const buf = this.buf;
    const byte = buf[this.pos++] ?? 0;
    const value = (this.value | ((byte & 15) << 28)) >>> 0;
    if (byte < 128) return value;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.len) throw this.truncated();
      if ((buf[this.pos++] ?? 0) < 128) return value;
    }
    throw this.error('invalid varint: more than 10 bytes');
  }

  /** A field tag (field number << 3 | wire type), as protobufjs's: at most 5 bytes. */
  tag(): number {
    let tag: number;
    if (this.#head()) tag = this.value;
    else {
      const byte = this.buf[this.pos++] ?? 0;
      if (byte >= 128 || (byte & 112) !== 0) throw this.error('invalid tag: more than 32 bits');
      tag = (this.value | ((byte & 15) << 28)) >>> 0;
    }
    this.field = tag >>> 3;
    return tag;
  }

  /** A length, as protobufjs's: at most 5 bytes, below 2^31. */
  protected size(): number {
    if (this.#head()) return this.value;
    const byte = this.buf[this.pos++] ?? 0;
    if (byte > 7) throw this.error('invalid length: 2^31 bytes or more');
    return (this.value | (byte << 28)) >>> 0;
  }

  /** A bool, as protobufjs's: true when any bit of the varint is set. */
  protected bool(): boolean {
    let value = false;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.len) throw this.truncated();
      const byte = this.buf[this.pos++] ?? 0;
      if ((byte & 127) !== 0) value = true;
      if (byte < 128) return value;
    }
    throw this.error('invalid varint: more than 10 bytes');
  }

  /** A 64-bit varint as two 32-bit halves, in `low` and `high`. */
  protected varint64(): void {
    const buf = this.buf;
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.len) throw this.truncated();
      const byte = buf[this.pos++] ?? 0;
      if (i < 4) low |= (byte & 127) << (i * 7);
      else if (i === 4) {
        low |= (byte & 127) << 28;
        high |= (byte & 127) >> 4;
      } else high |= (byte & 127) << ((i - 5) * 7 + 3);
      if (byte < 128) {
        this.low = low >>> 0;
        this.high = high >>> 0;
        return;
      }
    }
    throw this.error('invalid varint: more than 10 bytes');
  }

  /** int64 (two's complement varint) as a number, exact up to 2^53. */
  protected int64(): number {
    this.varint64();
    return (this.high | 0) * TWO_32 + this.low;
  }

  /** uint64 varint as a number, exact up to 2^53. */
  protected uint64(): number {
    this.varint64();
    return this.high * TWO_32 + this.low;
  }

  /** sint32 (zigzag varint). */
  protected sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  protected need(bytes: number): void {
    if (this.pos + bytes > this.len) throw this.truncated();
  }

  /** fixed64 as two halves, in `low` and `high`. */
  protected fixed64(): void {
    this.need(8);
    this.low = this.view.getUint32(this.pos, true);
    this.high = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
  }

  protected fixed64Number(): number {
    this.fixed64();
    return this.high * TWO_32 + this.low;
  }

  protected sfixed64Number(): number {
    this.fixed64();
    return (this.high | 0) * TWO_32 + this.low;
  }

  protected double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** The end of a length-delimited field starting here (its length read). */
  protected end(): number {
    const length = this.size();
    const end = this.pos + length;
    if (end > this.len) throw this.truncated();
    return end;
  }

  /** A proto3 string: strict UTF-8, as protobufjs checks it. */
  protected string(): string {
    const end = this.end();
    const start = this.pos;
    const buf = this.buf;
    for (let i = start; i < end; i++) {
      if ((buf[i] ?? 0) >= 128) {
        let text: string;
        try {
          text = strictUtf8.decode(buf.subarray(start, end));
        } catch {
          throw this.error('invalid UTF-8 in a string');
        }
        this.pos = end;
        return text;
      }
    }
    this.pos = end;
    return buf.toString('latin1', start, end);
  }

  protected bytes(): Uint8Array {
    const end = this.end();
    const out = new Uint8Array(this.buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  /** Skips a field of the given wire type, as protobufjs's skipType does (groups included). */
  skip(wireType: number, field: number, depth: number): void {
    if (depth > RECURSION_LIMIT) throw this.error(`nested deeper than ${RECURSION_LIMIT} messages`);
    if (field === 0) throw this.error('invalid tag: field number 0');
    switch (wireType) {
      case WireType.VARINT:
        do {
          if (this.pos >= this.len) throw this.truncated();
        } while (((this.buf[this.pos++] ?? 0) & 128) !== 0);
        return;
      case WireType.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.LEN:
        this.pos = this.end();
        return;
      case WireType.SGROUP:
        for (;;) {
          const tag = this.tag();
          const nested = tag >>> 3;
          const type = tag & 7;
          if (nested === 0) throw this.error('invalid tag: field number 0');
          if (type === WireType.EGROUP) {
            if (nested !== field) throw this.error(`group ${field} ends with the end tag of group ${nested}`);
            return;
          }
          this.skip(type, nested, depth + 1);
        }
      case WireType.I32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw this.error(`invalid wire type ${wireType}`);
    }
  }

  /**
   * Enters the length-delimited message `message` starting here; returns the end of the
   * enclosing one, to give to {@link leave}.
   */
  protected enter(depth: number, message: string): number {
    if (depth > RECURSION_LIMIT) throw this.error(`nested deeper than ${RECURSION_LIMIT} messages`);
    const end = this.end();
    const outer = this.len;
    this.len = end;
    this.path[this.level++] = message;
    this.field = 0;
    return outer;
  }

  /** Leaves the message entered last, which must have been read to its end. */
  protected leave(outer: number): void {
    if (this.pos !== this.len) throw this.truncated();
    this.len = outer;
    this.level -= 1;
  }
}
