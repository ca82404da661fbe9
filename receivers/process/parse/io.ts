import { ParseError } from '../../../service/errors.ts';

/** `/proc/<pid>/io` (proc_pid_io(5)): I/O counters of a process, all cumulative. */
export interface PidIo {
  /** `rchar`: bytes passed to read(2) and similar calls, from any source (cache, pipe, socket). */
  readonly rchar: number;
  /** `wchar`: bytes passed to write(2) and similar calls. */
  readonly wchar: number;
  /** `syscr`: read system calls. */
  readonly syscr: number;
  /** `syscw`: write system calls. */
  readonly syscw: number;
  /** `read_bytes`: bytes the process caused to be fetched from the storage layer. */
  readonly readBytes: number;
  /** `write_bytes`: bytes the process caused to be sent to the storage layer. */
  readonly writeBytes: number;
}

const KEYS = {
  rchar: 'rchar',
  wchar: 'wchar',
  syscr: 'syscr',
  syscw: 'syscw',
  read_bytes: 'readBytes',
  write_bytes: 'writeBytes',
} as const;

/** Parses `/proc/<pid>/io` (`key: value` lines); every key of {@link PidIo} is required. */
export function parsePidIo(text: string): PidIo {
  const out: Partial<Record<(typeof KEYS)[keyof typeof KEYS], number>> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0)
      throw new ParseError('/proc/<pid>/io', i + 1, `expected "key: value", got ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    if (!(key in KEYS)) continue;
    const raw = line.slice(colon + 1).trim();
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value))
      throw new ParseError('/proc/<pid>/io', i + 1, `${key} is not a number: ${JSON.stringify(raw)}`);
    out[KEYS[key as keyof typeof KEYS]] = value;
  }
  const { rchar, wchar, syscr, syscw, readBytes, writeBytes } = out;
  if (
    rchar === undefined ||
    wchar === undefined ||
    syscr === undefined ||
    syscw === undefined ||
    readBytes === undefined ||
    writeBytes === undefined
  ) {
    const missing = Object.keys(KEYS).filter((k) => out[KEYS[k as keyof typeof KEYS]] === undefined);
    throw new ParseError('/proc/<pid>/io', lines.length, `missing ${missing.join(', ')}`);
  }
  return { rchar, wchar, syscr, syscw, readBytes, writeBytes };
}
