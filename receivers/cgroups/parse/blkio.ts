import { ParseError } from '../../../kit/errors.ts';

/**
 * One device of a cgroup v1 blkio statistics file. Read, Write and Discard split the I/O by
 * direction; Sync and Async split the same I/O again by kind; Total is their sum.
 */
export interface BlkioRecord {
  readonly major: number;
  readonly minor: number;
  readonly read: number;
  readonly write: number;
  readonly sync: number;
  readonly async: number;
  /** Absent before Linux 4.19. */
  readonly discard: number;
  readonly total: number;
}

const OPERATIONS = {
  Read: 'read',
  Write: 'write',
  Sync: 'sync',
  Async: 'async',
  Discard: 'discard',
  Total: 'total',
} as const;

/**
 * cgroup v1 blkio.throttle.io_service_bytes and blkio.throttle.io_serviced (and their
 * `_recursive` variants; Documentation/admin-guide/cgroup-v1/blkio-controller.rst): lines
 * `MAJ:MIN Read N` … `MAJ:MIN Total N` per device, then a last `Total N` for all devices,
 * which is ignored. An operation this parser does not know is ignored.
 *
 * @throws ParseError on a line of another shape or a value that is not a number.
 */
export function parseBlkioStat(text: string, source: string): BlkioRecord[] {
  const byDevice = new Map<string, Record<string, number>>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const fields = line.split(' ');
    if (fields.length === 2 && fields[0] === 'Total') {
      if (!/^\d+$/.test(fields[1] ?? ''))
        throw new ParseError(source, i + 1, `Total is not an integer: ${JSON.stringify(line)}`);
      continue;
    }
    const [device, operation, raw] = fields;
    if (
      fields.length !== 3 ||
      device === undefined ||
      !/^\d+:\d+$/.test(device) ||
      operation === undefined ||
      raw === undefined
    ) {
      throw new ParseError(source, i + 1, `expected "MAJ:MIN Operation value", got ${JSON.stringify(line)}`);
    }
    if (!/^\d+$/.test(raw))
      throw new ParseError(source, i + 1, `value of ${operation} is not an integer: ${JSON.stringify(raw)}`);
    const key = (OPERATIONS as Record<string, string | undefined>)[operation];
    if (key === undefined) continue;
    let values = byDevice.get(device);
    if (values === undefined) {
      values = {};
      byDevice.set(device, values);
    }
    values[key] = Number(raw);
  }
  const records: BlkioRecord[] = [];
  for (const [device, v] of byDevice) {
    const colon = device.indexOf(':');
    records.push({
      major: Number(device.slice(0, colon)),
      minor: Number(device.slice(colon + 1)),
      read: v.read ?? 0,
      write: v.write ?? 0,
      sync: v.sync ?? 0,
      async: v.async ?? 0,
      discard: v.discard ?? 0,
      total: v.total ?? 0,
    });
  }
  return records;
}
