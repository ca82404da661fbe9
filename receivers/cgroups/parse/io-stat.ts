import { ParseError } from '../../../kit/errors.ts';

/** One device line of cgroup v2 io.stat. Counters since the cgroup was created. */
export interface IoStatRecord {
  readonly major: number;
  readonly minor: number;
  /** Bytes read, written and discarded. */
  readonly rbytes: number;
  readonly wbytes: number;
  readonly dbytes: number;
  /** Read, write and discard operations. */
  readonly rios: number;
  readonly wios: number;
  readonly dios: number;
}

/**
 * cgroup v2 io.stat (Documentation/admin-guide/cgroup-v2.rst, "IO Interface Files"): one line
 * per device, `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`. Keys a controller adds
 * (`cost.usage=` with io.cost, `rlatency`, …) and keys unknown today are ignored; a key that is
 * missing reads as 0 (dbytes and dios appeared in Linux 5.0).
 *
 * @throws ParseError on a line without `MAJ:MIN` or with a `key=value` whose value is not a number.
 */
export function parseIoStat(text: string, source: string): IoStatRecord[] {
  const records: IoStatRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const fields = line.split(' ');
    const device = /^(\d+):(\d+)$/.exec(fields[0] ?? '');
    if (device === null)
      throw new ParseError(source, i + 1, `expected "MAJ:MIN key=value …", got ${JSON.stringify(line)}`);
    const values: Record<string, number> = { rbytes: 0, wbytes: 0, dbytes: 0, rios: 0, wios: 0, dios: 0 };
    for (let f = 1; f < fields.length; f++) {
      const field = fields[f] ?? '';
      if (field === '') continue;
      const eq = field.indexOf('=');
      if (eq < 0) throw new ParseError(source, i + 1, `expected key=value, got ${JSON.stringify(field)}`);
      const key = field.slice(0, eq);
      if (!(key in values)) continue;
      const raw = field.slice(eq + 1);
      if (!/^\d+$/.test(raw))
        throw new ParseError(source, i + 1, `value of ${key} is not an integer: ${JSON.stringify(raw)}`);
      values[key] = Number(raw);
    }
    records.push({
      major: Number(device[1]),
      minor: Number(device[2]),
      rbytes: values.rbytes ?? 0,
      wbytes: values.wbytes ?? 0,
      dbytes: values.dbytes ?? 0,
      rios: values.rios ?? 0,
      wios: values.wios ?? 0,
      dios: values.dios ?? 0,
    });
  }
  return records;
}
