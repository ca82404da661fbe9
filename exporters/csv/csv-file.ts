import { once } from 'node:events';
import type { WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, parse } from 'node:path';
import { finished } from 'node:stream/promises';
import { errorCode } from '../../kit/errors.ts';
import { RECORD_SCAN_START, scanRecords } from './record-scan.ts';

/**
 * The file side of the CSV exporter, and the only module that does I/O: opening a file for
 * appending (header check, repair of a cut last record, moving a foreign file aside), writing
 * with backpressure, syncing, rotating and pruning rotated files.
 */

/** How much of a file is read at a time when looking for its last complete record. */
const SCAN_CHUNK_BYTES = 1 << 20;

/** A CSV file open for appending. */
export interface CsvFile {
  readonly path: string;
  readonly handle: FileHandle;
  readonly stream: WriteStream;
  /** Bytes in the file (header included). */
  size: number;
  /** When the file was started (its birth time when appended to), in ms since the epoch: the start of its rotation interval. */
  createdAt: number;
}

/** What opening found and did. */
export interface OpenReport {
  /** True when an existing file with the same header is appended to. */
  readonly appended: boolean;
  /** Where a file with another header (or no CSV at all) was moved. */
  readonly movedAside?: string;
  /** Bytes of an incomplete last record that were cut off. */
  readonly truncatedBytes?: number;
}

/** `2026-11-22T18-00-00.123Z`: an ISO 8601 UTC time usable in file names on every system. */
export function toFileStamp(time: number): string {
  return new Date(time).toISOString().replaceAll(':', '-');
}

/** `metrics.csv` rotated at `time` → `metrics.2026-11-22T18-00-00.123Z.csv` (`-1`, `-2`… after the stamp when taken). */
export function rotatedPath(path: string, time: number, counter = 0, tag = ''): string {
  const { dir, name, ext } = parse(path);
  const suffix = counter === 0 ? '' : `-${counter}`;
  return join(dir, `${name}.${toFileStamp(time)}${suffix}${tag}${ext}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches the names of rotated files of `path`, capturing the stamp and the counter. */
export function rotatedNamePattern(path: string): RegExp {
  const { name, ext } = parse(path);
  return new RegExp(
    `^${escapeRegExp(name)}\\.(\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}Z)(?:-(\\d+))?${escapeRegExp(ext)}$`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Renames `path` to a free rotated name for `time` (with `tag` before the extension); returns it. */
export async function moveWithStamp(path: string, time: number, tag = ''): Promise<string> {
  for (let counter = 0; ; counter++) {
    const target = rotatedPath(path, time, counter, tag);
    if (await exists(target)) continue;
    await rename(path, target);
    return target;
  }
}

/** Deletes the oldest rotated files of `path` beyond `maxFiles`; returns the deleted paths. */
export async function pruneRotated(path: string, maxFiles: number): Promise<string[]> {
  const { dir } = parse(path);
  const pattern = rotatedNamePattern(path);
  const rotated: { name: string; stamp: string; counter: number }[] = [];
  for (const name of await readdir(dir === '' ? '.' : dir)) {
    const match = pattern.exec(name);
    if (match !== null) rotated.push({ name, stamp: match[1] ?? '', counter: Number(match[2] ?? 0) });
  }
  rotated.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.counter - b.counter));
  const deleted: string[] = [];
  for (const old of rotated.slice(0, Math.max(0, rotated.length - maxFiles))) {
    const oldPath = join(dir, old.name);
    try {
      await unlink(oldPath);
      deleted.push(oldPath);
    } catch (error) {
      // Already gone (deleted by hand between the listing and now) is what was wanted.
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  return deleted;
}

async function readPrefix(handle: FileHandle, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, 0);
  return buffer.subarray(0, bytesRead);
}

/** Offset just past the last complete record of an open file (quote-aware). */
async function lastRecordEnd(handle: FileHandle, size: number): Promise<number> {
  const buffer = Buffer.alloc(Math.min(SCAN_CHUNK_BYTES, Math.max(size, 1)));
  let scan = RECORD_SCAN_START;
  while (scan.offset < size) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, scan.offset);
    if (bytesRead === 0) break;
    scan = scanRecords(scan, buffer.subarray(0, bytesRead));
  }
  return scan.lastRecordEnd;
}

/**
 * Looks at what is already at `path`: `append` (the same header, possibly after cutting an
 * incomplete last record), `restart` (empty, or a header cut short: written again from the
 * start) or `foreign` (another header: to be moved aside).
 */
async function inspect(
  path: string,
  header: Buffer,
): Promise<
  | { kind: 'absent' | 'restart' | 'foreign' }
  | { kind: 'append'; size: number; truncatedBytes: number; birthtime: number }
> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'absent' };
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    const prefix = await readPrefix(handle, header.length);
    if (prefix.length < header.length) {
      return { kind: header.subarray(0, prefix.length).equals(prefix) ? 'restart' : 'foreign' };
    }
    if (!prefix.equals(header)) return { kind: 'foreign' };
    const end = await lastRecordEnd(handle, info.size);
    return { kind: 'append', size: end, truncatedBytes: info.size - end, birthtime: info.birthtimeMs };
  } finally {
    await handle.close();
  }
}

async function openForAppend(path: string): Promise<{ handle: FileHandle; stream: WriteStream }> {
  const handle = await open(path, 'a');
  // autoClose: ending or destroying the stream closes the file handle.
  const stream = handle.createWriteStream({ encoding: 'utf8' });
  // Write errors reach the caller through each write's callback (see writeToFile); without a
  // listener the stream's 'error' event would also crash the process.
  stream.on('error', () => undefined);
  return { handle, stream };
}

/**
 * Opens `path` for appending CSV records under `header`, creating its directory. An existing
 * file with the same header is appended to, after cutting an incomplete last record; a file
 * that is empty or holds only part of the header is started again; any other file is moved
 * aside to `<name>.<stamp>.old<ext>`.
 */
export async function openCsvFile(
  path: string,
  header: string,
  now: number,
): Promise<{ file: CsvFile; report: OpenReport }> {
  const headerBytes = Buffer.from(header, 'utf8');
  const { dir } = parse(path);
  if (dir !== '') await mkdir(dir, { recursive: true });
  const found = await inspect(path, headerBytes);
  if (found.kind === 'append') {
    if (found.truncatedBytes > 0) await truncate(path, found.size);
    const { handle, stream } = await openForAppend(path);
    const createdAt = found.birthtime > 0 ? Math.min(found.birthtime, now) : now;
    const file: CsvFile = { path, handle, stream, size: found.size, createdAt };
    const report: OpenReport =
      found.truncatedBytes > 0
        ? { appended: true, truncatedBytes: found.truncatedBytes }
        : { appended: true };
    return { file, report };
  }
  let movedAside: string | undefined;
  if (found.kind === 'foreign') movedAside = await moveWithStamp(path, now, '.old');
  if (found.kind === 'restart') await truncate(path, 0);
  const { handle, stream } = await openForAppend(path);
  const file: CsvFile = { path, handle, stream, size: 0, createdAt: now };
  try {
    await writeToFile(file, header);
  } catch (error) {
    // The failed write is what the caller must hear about; a failing close adds nothing to it.
    await closeCsvFile(file).catch(() => undefined);
    throw error;
  }
  return { file, report: movedAside === undefined ? { appended: false } : { appended: false, movedAside } };
}

/**
 * Appends text (or its UTF-8 bytes) and resolves once it is handed to the operating system (the write callback),
 * and the stream has room again: one write at a time, never more buffered than one chunk.
 */
export async function writeToFile(file: CsvFile, data: string | Buffer): Promise<void> {
  const { stream } = file;
  if (stream.destroyed || stream.writableEnded) throw new Error(`${file.path} is closed`);
  await new Promise<void>((resolve, reject) => {
    const done = (error: Error | null | undefined): void => {
      if (error) reject(error);
      else resolve();
    };
    if (typeof data === 'string') stream.write(data, 'utf8', done);
    else stream.write(data, done);
  });
  file.size += typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
  if (stream.writableNeedDrain) await once(stream, 'drain');
}

/**
 * Appends several buffers in one system call (writev), without joining them first; resolves
 * as {@link writeToFile} does.
 */
export async function writeAllToFile(file: CsvFile, data: readonly Buffer[]): Promise<void> {
  const { stream } = file;
  if (stream.destroyed || stream.writableEnded) throw new Error(`${file.path} is closed`);
  stream.cork();
  const written = Promise.all(
    data.map(
      (chunk) =>
        new Promise<void>((resolve, reject) => {
          stream.write(chunk, (error) => {
            if (error) reject(error);
            else resolve();
          });
        }),
    ),
  );
  stream.uncork();
  await written;
  for (const chunk of data) file.size += chunk.length;
  if (stream.writableNeedDrain) await once(stream, 'drain');
}

/** Flushes the file's data to the device (fsync). */
export async function syncCsvFile(file: CsvFile): Promise<void> {
  await file.handle.sync();
}

/** Syncs the file to disk, ends the stream and closes the file (it closes even when the sync fails). */
export async function closeCsvFile(file: CsvFile): Promise<void> {
  const { stream, handle } = file;
  // A stream destroyed by a write error has closed its file already (autoClose).
  if (stream.destroyed) return;
  try {
    await handle.sync();
  } finally {
    stream.end();
    await finished(stream);
  }
}
