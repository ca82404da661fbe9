import { CopyBuffer } from './copy-text.ts';
import type { DeviceBytes, OtherRow, RowBuilder, RowParts, RowTime } from './copy-text.ts';

/**
 * COPY's binary form (`COPY … FROM STDIN (FORMAT binary)`) of kwollect's `metrics` rows, for a
 * table whose columns have exactly kwollect's types (schema.ts decides):
 *
 * - the payload: the signature `PGCOPY\n\377\r\n\0`, a 32-bit flags field and a 32-bit header
 *   extension length (both 0), the tuples, then the trailer, a 16-bit -1;
 * - a tuple: a 16-bit field count (5), then each field as a 32-bit length and its bytes, all
 *   integers big-endian;
 * - `timestamp` (timestamptz): an int64 of microseconds since 2000-01-01 00:00 UTC;
 *   `device_id`, `metric_id` (text): UTF-8; `value` (double precision): an IEEE double;
 *   `labels` (jsonb): the version byte 1, then the JSON as UTF-8.
 *
 * Nothing is formatted per row: a series' tuple is made once with its time and value left
 * blank ({@link binaryRow}), and each row copies it and writes its time and value into it.
 * The digits of the value were the costliest step of a COPY text row (about 420 instructions
 * of some 2,200, bench/postgresql-row-steps.ts), and the text row copied three arrays where
 * this copies one.
 */

export const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** The signature, the flags and the header extension's length. */
const HEADER = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);
const FIELDS = 5;
/** Where the time's 8 bytes go in a tuple: after the field count and the time's length. */
const TIME_AT = 6;
/** A tuple's bytes up to its device field: the field count and the time's field. */
const TUPLE_HEAD = 14;
/** The version byte of jsonb's binary form. */
const JSONB_VERSION = 1;

/** True when `payload` is COPY's binary form (it begins with the signature). */
export function isBinaryCopy(payload: Uint8Array): boolean {
  if (payload.length < BINARY_SIGNATURE.length) return false;
  for (let i = 0; i < BINARY_SIGNATURE.length; i += 1) if (payload[i] !== BINARY_SIGNATURE[i]) return false;
  return true;
}

/** A text field: its length and its UTF-8 bytes. */
export function textField(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const field = Buffer.allocUnsafe(4 + bytes.length);
  field.writeInt32BE(bytes.length, 0);
  bytes.copy(field, 4);
  return field;
}

/** A jsonb field: its length, the version byte and the JSON's UTF-8 bytes. */
export function jsonbField(json: string): Buffer {
  const bytes = Buffer.from(json, 'utf8');
  const field = Buffer.allocUnsafe(5 + bytes.length);
  field.writeInt32BE(bytes.length + 1, 0);
  field[4] = JSONB_VERSION;
  bytes.copy(field, 5);
  return field;
}

/**
 * A series' tuple with its time and value blank: the field count, the time's length and 8
 * bytes, `device` and `metric` (text fields), the value's length and 8 bytes, `labels` (a
 * jsonb field). Returns it and where the value goes.
 */
export function binaryRow(device: DeviceBytes, metric: Uint8Array, labels: Uint8Array): [Uint8Array, number] {
  // From Node's pool of small buffers (Buffer.alloc would give each series an ArrayBuffer of its own).
  const row = Buffer.allocUnsafe(TUPLE_HEAD + device.binary.length + metric.length + 12 + labels.length).fill(
    0,
  );
  row.writeInt16BE(FIELDS, 0);
  row.writeInt32BE(8, 2);
  let at = TUPLE_HEAD;
  row.set(device.binary, at);
  at += device.binary.length;
  row.set(metric, at);
  at += metric.length;
  row.writeInt32BE(8, at);
  const valueAt = at + 4;
  row.set(labels, valueAt + 8);
  return [row, valueAt];
}

/** 2000-01-01 00:00 UTC, the epoch of PostgreSQL's timestamps, in Unix seconds. */
const POSTGRES_EPOCH = 946_684_800;

/**
 * The int64 of microseconds since 2000-01-01 UTC for a time given as Unix seconds and
 * microseconds, as its upper (signed) and lower (unsigned) 32 bits. Years 1–9999 need more
 * than a double's 53 bits, hence the BigInt (once per distinct time).
 */
export function postgresMicros(seconds: number, micros: number): [number, number] {
  const total = BigInt(seconds - POSTGRES_EPOCH) * 1_000_000n + BigInt(micros);
  return [Number(BigInt.asIntN(32, total >> 32n)), Number(BigInt.asUintN(32, total))];
}

/** A batch's rows in COPY's binary form; see the top of this file. */
export class CopyBinaryBuilder extends CopyBuffer implements RowBuilder {
  #view: DataView;

  constructor(initialBytes = 1 << 20) {
    super(Math.max(initialBytes, HEADER.length + TRAILER.length));
    this.#view = this.#newView();
    this.#start();
  }

  /** Appends the series' tuple, its time and value written into it. */
  pushRow(time: RowTime, parts: RowParts, value: number): void {
    const row = parts.binaryRow;
    if (this.buffer.length - this.length < row.length) this.grow(row.length);
    const at = this.length;
    this.buffer.set(row, at);
    const view = this.#view;
    view.setInt32(at + TIME_AT, time.high);
    view.setUint32(at + TIME_AT + 4, time.low);
    view.setFloat64(at + parts.binaryValueAt, value);
    this.length = at + row.length;
    this.count += 1;
  }

  /** Appends a row off the common path, its fields encoded one by one. */
  push(row: OtherRow): void {
    const device = textField(row.device);
    const metric = textField(row.metric);
    const labels = jsonbField(row.labels);
    const bytes = TUPLE_HEAD + device.length + metric.length + 12 + labels.length;
    if (this.buffer.length - this.length < bytes) this.grow(bytes);
    const view = this.#view;
    let at = this.length;
    view.setInt16(at, FIELDS);
    view.setInt32(at + 2, 8);
    view.setInt32(at + TIME_AT, row.time.high);
    view.setUint32(at + TIME_AT + 4, row.time.low);
    at += TUPLE_HEAD;
    for (const field of [device, metric]) {
      this.buffer.set(field, at);
      at += field.length;
    }
    view.setInt32(at, 8);
    view.setFloat64(at + 4, row.value);
    at += 12;
    this.buffer.set(labels, at);
    this.length = at + labels.length;
    this.count += 1;
  }

  /**
   * The payload of the rows since the last call (header, tuples, trailer), in a buffer of its
   * own; empty when there were none. The builder starts over.
   */
  take(): Buffer {
    if (this.count === 0) return Buffer.alloc(0);
    if (this.buffer.length - this.length < TRAILER.length) this.grow(TRAILER.length);
    this.buffer.set(TRAILER, this.length);
    this.length += TRAILER.length;
    const payload = this.takeBytes();
    this.#start();
    return payload;
  }

  protected override replaced(): void {
    this.#view = this.#newView();
  }

  #newView(): DataView {
    return new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  /** Every payload begins with the header. */
  #start(): void {
    this.buffer.set(HEADER, 0);
    this.length = HEADER.length;
  }
}

/**
 * The tuples of a binary payload, each as its bytes (for writing rows again one by one);
 * throws on a payload that is not well formed.
 */
export function binaryTuples(payload: Uint8Array): Uint8Array[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const tuples: Uint8Array[] = [];
  let at = HEADER.length + view.getInt32(BINARY_SIGNATURE.length + 4);
  for (;;) {
    const fields = view.getInt16(at);
    if (fields === -1) return tuples;
    let end = at + 2;
    for (let f = 0; f < fields; f += 1) end += 4 + Math.max(0, view.getInt32(end));
    if (end > payload.length) throw new Error('truncated COPY binary payload');
    tuples.push(payload.subarray(at, end));
    at = end;
  }
}

/** A binary payload of `tuples` (from {@link binaryTuples}). */
export function binaryPayload(tuples: readonly Uint8Array[]): Buffer {
  return Buffer.concat([HEADER, ...tuples, TRAILER]);
}

/**
 * A tuple of kwollect's columns as a line of COPY text, unescaped, for messages:
 * `<time>\t<device>\t<metric>\t<value>\t<labels>`.
 */
export function tupleText(tuple: Uint8Array): string {
  const view = new DataView(tuple.buffer, tuple.byteOffset, tuple.byteLength);
  const text = (from: number, length: number): string =>
    Buffer.from(tuple.buffer, tuple.byteOffset + from, length).toString('utf8');
  const fields: string[] = [];
  let at = 2;
  for (let f = 0; f < view.getInt16(0); f += 1) {
    const length = view.getInt32(at);
    at += 4;
    if (length < 0) fields.push('\\N');
    else if (f === 0 && length === 8) {
      const micros = view.getBigInt64(at) + BigInt(POSTGRES_EPOCH) * 1_000_000n;
      let fraction = Number(micros % 1_000_000n);
      if (fraction < 0) fraction += 1_000_000;
      const seconds = Number((micros - BigInt(fraction)) / 1_000_000n);
      const date = new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
      fields.push(`${date}.${String(fraction).padStart(6, '0')}+00`);
    } else if (f === 3 && length === 8) fields.push(String(view.getFloat64(at)));
    else if (f === 4 && length > 0) fields.push(text(at + 1, length - 1));
    else fields.push(text(at, length));
    at += Math.max(0, length);
  }
  return fields.join('\t');
}
