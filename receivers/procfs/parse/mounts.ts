import { ParseError } from '../../../kit/errors.ts';
import { lines } from '../../../kit/procfs/fields.ts';

/** One line of /proc/PID/mounts (fstab(5) format). */
export interface Mount {
  readonly device: string;
  readonly mountpoint: string;
  readonly type: string;
  /** `ro` or `rw`. */
  readonly mode: 'ro' | 'rw';
}

/** Undoes the kernel's octal escapes (`\040` for a space) in mounts fields. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mounts or /proc/1/mounts. */
export function parseMounts(text: string, source = '/proc/self/mounts'): Mount[] {
  return lines(text).map(({ line, text: l }) => {
    const fields = l.trim().split(/\s+/);
    if (fields.length < 4)
      throw new ParseError(source, line, `expected at least 4 fields, got ${fields.length}`);
    const options = (fields[3] ?? '').split(',');
    return {
      device: unescape(fields[0] ?? ''),
      mountpoint: unescape(fields[1] ?? ''),
      type: fields[2] ?? '',
      mode: options.includes('ro') ? 'ro' : 'rw',
    };
  });
}
