import { ParseError } from '../../../service/errors.ts';

/** `/proc/<pid>/statm` (proc_pid_statm(5)): memory sizes, all in pages. */
export interface Statm {
  /** Total program size (same as VmSize in status). */
  readonly size: number;
  /** Resident set size (same as VmRSS in status). */
  readonly resident: number;
  /** Resident shared pages: file-backed and shared memory (RssFile + RssShmem). */
  readonly shared: number;
  /** Text (code). */
  readonly text: number;
  /** Data plus stack. */
  readonly data: number;
}

/** Parses `/proc/<pid>/statm`: seven numbers on one line (lib and dt are always 0 since Linux 2.6). */
export function parseStatm(text: string): Statm {
  const fields = text.trim().split(' ');
  if (fields.length < 7 || fields[0] === '')
    throw new ParseError('/proc/<pid>/statm', 1, `expected 7 fields, got ${JSON.stringify(text)}`);
  const values = fields.map(Number);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new ParseError(
      '/proc/<pid>/statm',
      1,
      `field ${bad + 1} is not a number: ${JSON.stringify(fields[bad])}`,
    );
  const [size = 0, resident = 0, shared = 0, textPages = 0, , data = 0] = values;
  return { size, resident, shared, text: textPages, data };
}
