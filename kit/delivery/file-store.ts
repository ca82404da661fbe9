import { closeSync, openSync, fsyncSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { errorCode } from '../errors.ts';

/**
 * The persistent queue's storage: append-only segment files in one directory, and a file
 * holding the sequence number up to which every record has been consumed.
 *
 * ```
 * DIRECTORY/
 *   lock                               pid of the process using the directory
 *   consumed                           decimal sequence number: every record ≤ it is done
 *   segment-0000000000000001.log       "INFQ" + u32 version (1), then records
 *   segment-0000000000000412.log       named after the sequence number of its first record
 * ```
 *
 * A record is `u32 length | u32 CRC-32 of the body | body` (little-endian) and the body is
 * `u64 sequence | u32 points | payload`; the payload is an OTLP
 * `ExportMetricsServiceRequest` in the protobuf encoding.
 *
 * Durability (fsync policy): an append resolves only after its bytes are written and the
 * segment file is fsync'd (appends that arrive meanwhile share the next fsync); a new
 * segment also fsyncs the directory. The `consumed` file is replaced atomically (write,
 * rename) without fsync: a crash of the process (SIGKILL) loses nothing, since written data
 * is in the kernel; a power loss can lose the last `consumed` update, and then records
 * already delivered are sent again (at-least-once).
 *
 * Recovery: on open, every segment is read and every record checked. A record cut short at
 * the end of a segment (a torn write during a crash) is detected by its length or checksum,
 * skipped, and the file truncated there; a record with a bad checksum elsewhere is skipped.
 */

const MAGIC = Buffer.from('INFQ');
const VERSION = 1;
const FILE_HEADER_BYTES = 8;
const RECORD_HEADER_BYTES = 8;
const BODY_PREFIX_BYTES = 12;
const SEGMENT_PATTERN = /^segment-(\d{16})\.log$/;

/** Where a record lives, and what it holds. */
export interface StoredRecord {
  readonly seq: number;
  readonly points: number;
  /** Payload bytes. */
  readonly size: number;
  readonly segment: number;
  /** Position of the record's header in the segment file. */
  readonly offset: number;
}

/** What recovery found. */
export interface RecoveryReport {
  /** Records not yet consumed, in sequence order. */
  readonly records: StoredRecord[];
  /** Torn records cut off at a segment's end. */
  readonly torn: number;
  /** Records skipped for a bad checksum or length. */
  readonly corrupt: number;
  /** Points in the corrupt records whose header could still be read (else unknown). */
  readonly corruptPoints: number;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  size: number;
  lastSeq: number;
  /** True until the file and its header are created on disk. */
  created: boolean;
  reader?: Promise<FileHandle> | undefined;
}

interface PendingWrite {
  readonly segment: Segment;
  readonly offset: number;
  readonly bytes: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function segmentName(id: number): string {
  return `segment-${String(id).padStart(16, '0')}.log`;
}

function fileHeader(): Buffer {
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 4);
  return header;
}

/** Encodes one record. */
export function encodeRecord(seq: number, points: number, payload: Uint8Array): Buffer {
  const bodyLength = BODY_PREFIX_BYTES + payload.length;
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bodyLength);
  out.writeUInt32LE(bodyLength, 0);
  out.writeUInt32LE(seq % 4_294_967_296, 8);
  out.writeUInt32LE(Math.floor(seq / 4_294_967_296), 12);
  out.writeUInt32LE(points, 16);
  out.set(payload, RECORD_HEADER_BYTES + BODY_PREFIX_BYTES);
  out.writeUInt32LE(crc32(out.subarray(RECORD_HEADER_BYTES)), 4);
  return out;
}

/** Append-only segment storage for one persistent queue. */
export class FileStore {
  readonly #directory: string;
  readonly #segmentBytes: number;
  readonly #segments = new Map<number, Segment>();
  #active: Segment | undefined;
  #writes: PendingWrite[] = [];
  #writing: Promise<void> | undefined;
  #consumed = 0;
  #savedConsumed = 0;
  #saving: Promise<void> | undefined;
  #saveError: Error | undefined;
  #closed = false;

  constructor(directory: string, options: { segmentBytes?: number } = {}) {
    this.#directory = directory;
    this.#segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
  }

  get directory(): string {
    return this.#directory;
  }

  /** Takes the directory (refusing one a live process holds), reads and checks every segment. */
  async open(): Promise<RecoveryReport & { lastSeq: number }> {
    await mkdir(this.#directory, { recursive: true });
    await this.#lock();
    this.#consumed = await this.#readConsumed();
    this.#savedConsumed = this.#consumed;
    const names = (await readdir(this.#directory)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
    const records: StoredRecord[] = [];
    let torn = 0;
    let corrupt = 0;
    let corruptPoints = 0;
    let lastSeq = this.#consumed;
    for (const name of names) {
      const id = Number(SEGMENT_PATTERN.exec(name)?.[1]);
      const path = join(this.#directory, name);
      const bytes = await readFile(path);
      if (bytes.length < FILE_HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC)) {
        // A segment whose header never reached the disk holds nothing.
        await unlink(path);
        if (bytes.length > 0) torn += 1;
        continue;
      }
      const segment: Segment = { id, path, size: bytes.length, lastSeq: 0, created: true };
      let offset = FILE_HEADER_BYTES;
      while (offset < bytes.length) {
        const remaining = bytes.length - offset;
        const bodyLength = remaining >= RECORD_HEADER_BYTES ? bytes.readUInt32LE(offset) : 0;
        if (
          remaining < RECORD_HEADER_BYTES + BODY_PREFIX_BYTES ||
          bodyLength < BODY_PREFIX_BYTES ||
          bodyLength > remaining - RECORD_HEADER_BYTES
        ) {
          // Cut short: the tail of the last write before a crash.
          torn += 1;
          await truncate(path, offset);
          segment.size = offset;
          break;
        }
        const body = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + bodyLength);
        const seq = body.readUInt32LE(0) + body.readUInt32LE(4) * 4_294_967_296;
        const points = body.readUInt32LE(8);
        const end = offset + RECORD_HEADER_BYTES + bodyLength;
        if (crc32(body) !== bytes.readUInt32LE(offset + 4)) {
          if (end === bytes.length) {
            torn += 1;
            await truncate(path, offset);
            segment.size = offset;
            break;
          }
          corrupt += 1;
          corruptPoints += points;
          offset = end;
          continue;
        }
        segment.lastSeq = Math.max(segment.lastSeq, seq);
        lastSeq = Math.max(lastSeq, seq);
        if (seq > this.#consumed)
          records.push({ seq, points, size: bodyLength - BODY_PREFIX_BYTES, segment: id, offset });
        offset = end;
      }
      this.#segments.set(id, segment);
      this.#active = segment;
    }
    await this.#removeConsumedSegments();
    return { records, torn, corrupt, corruptPoints, lastSeq };
  }

  /** Appends a record; resolves once it is on disk (written and fsync'd). */
  append(seq: number, points: number, payload: Uint8Array): Promise<StoredRecord> {
    if (this.#closed) return Promise.reject(new Error(`persistent queue ${this.#directory} is closed`));
    const bytes = encodeRecord(seq, points, payload);
    let segment = this.#active;
    if (
      segment === undefined ||
      (segment.size > FILE_HEADER_BYTES && segment.size + bytes.length > this.#segmentBytes)
    ) {
      segment = {
        id: seq,
        path: join(this.#directory, segmentName(seq)),
        size: FILE_HEADER_BYTES,
        lastSeq: 0,
        created: false,
      };
      this.#segments.set(seq, segment);
      this.#active = segment;
    }
    const offset = segment.size;
    segment.size += bytes.length;
    segment.lastSeq = seq;
    const record: StoredRecord = { seq, points, size: payload.length, segment: segment.id, offset };
    const target = segment;
    return new Promise<StoredRecord>((resolve, reject) => {
      this.#writes.push({
        segment: target,
        offset,
        bytes,
        resolve: () => {
          resolve(record);
        },
        reject,
      });
      this.#writing ??= this.#drainWrites();
    });
  }

  /** Writes queued appends group by group; `#writing` is cleared in the same tick the queue empties. */
  async #drainWrites(): Promise<void> {
    for (;;) {
      if (this.#writes.length === 0) {
        this.#writing = undefined;
        return;
      }
      const group = this.#writes;
      this.#writes = [];
      try {
        await this.#writeGroup(group);
        for (const w of group) w.resolve();
      } catch (error) {
        // The segment may now hold a partial write: later appends go to a new segment, and
        // recovery cuts the damaged tail.
        const segment = group[0]?.segment;
        if (segment !== undefined && this.#active === segment) this.#active = undefined;
        const err = error instanceof Error ? error : new Error(String(error));
        for (const w of group) w.reject(err);
      }
    }
  }

  async #writeGroup(group: readonly PendingWrite[]): Promise<void> {
    // Consecutive writes to the same segment go out in one writev and one fsync.
    const runs: { segment: Segment; position: number; parts: Buffer[] }[] = [];
    for (const write of group) {
      const last = runs.at(-1);
      if (last?.segment === write.segment) last.parts.push(write.bytes);
      else runs.push({ segment: write.segment, position: write.offset, parts: [write.bytes] });
    }
    for (const { segment, position, parts } of runs) {
      const isNew = !segment.created;
      const handle = await open(segment.path, isNew ? 'wx' : 'r+');
      try {
        await handle.writev(isNew ? [fileHeader(), ...parts] : parts, isNew ? 0 : position);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (isNew) {
        segment.created = true;
        this.#syncDirectory();
      }
    }
  }

  #syncDirectory(): void {
    // A new file's directory entry survives a power loss only once the directory is fsync'd.
    try {
      const fd = openSync(this.#directory, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Some filesystems refuse fsync on a directory; the data itself is synced.
    }
  }

  /** Reads a record's payload. */
  async read(record: StoredRecord): Promise<Uint8Array> {
    const segment = this.#segments.get(record.segment);
    if (segment === undefined) throw new Error(`segment ${segmentName(record.segment)} is gone`);
    segment.reader ??= open(segment.path, 'r');
    const handle = await segment.reader;
    const out = Buffer.allocUnsafe(record.size);
    const { bytesRead } = await handle.read(
      out,
      0,
      record.size,
      record.offset + RECORD_HEADER_BYTES + BODY_PREFIX_BYTES,
    );
    if (bytesRead !== record.size) throw new Error(`${segment.path}: record ${record.seq} is truncated`);
    return out;
  }

  /** Marks every record up to `seq` consumed; persists it and removes finished segments. */
  commit(seq: number): void {
    if (seq <= this.#consumed) return;
    this.#consumed = seq;
    this.#saving ??= this.#saveConsumed();
  }

  async #saveConsumed(): Promise<void> {
    for (;;) {
      if (this.#savedConsumed >= this.#consumed) {
        this.#saving = undefined;
        return;
      }
      const value = this.#consumed;
      try {
        const tmp = join(this.#directory, 'consumed.tmp');
        await writeFile(tmp, `${value}\n`);
        await rename(tmp, join(this.#directory, 'consumed'));
        this.#savedConsumed = value;
        await this.#removeConsumedSegments();
        this.#saveError = undefined;
      } catch (error) {
        // Retried on the next commit; until then a restart would replay (duplicate) more.
        this.#saveError = error instanceof Error ? error : new Error(String(error));
        this.#saving = undefined;
        return;
      }
    }
  }

  /** The last failure to record the consumed offset, if it has not succeeded since. */
  get saveError(): Error | undefined {
    return this.#saveError;
  }

  async #removeConsumedSegments(): Promise<void> {
    for (const segment of [...this.#segments.values()]) {
      if (segment === this.#active || segment.lastSeq > this.#consumed) continue;
      this.#segments.delete(segment.id);
      const reader = segment.reader;
      segment.reader = undefined;
      if (reader !== undefined) await (await reader).close();
      await rm(segment.path, { force: true });
    }
  }

  async #readConsumed(): Promise<number> {
    try {
      const value = Number((await readFile(join(this.#directory, 'consumed'), 'utf8')).trim());
      return Number.isSafeInteger(value) && value >= 0 ? value : 0;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 0;
      throw error;
    }
  }

  async #lock(): Promise<void> {
    const path = join(this.#directory, 'lock');
    try {
      const owner = Number((await readFile(path, 'utf8')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(`persistent queue directory ${this.#directory} is in use by process ${owner}`);
      }
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    // A lock left by a process that died (SIGKILL) is taken over.
    await writeFile(path, `${process.pid}\n`);
  }

  /** Waits for pending writes and the consumed offset, closes files and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    this.#saving ??= this.#saveConsumed();
    await this.#saving;
    for (const segment of this.#segments.values()) {
      const reader = segment.reader;
      segment.reader = undefined;
      if (reader !== undefined) await (await reader).close();
    }
    await rm(join(this.#directory, 'lock'), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}
