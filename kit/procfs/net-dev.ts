import { ParseError } from '../errors.ts';
import { toNumber } from './fields.ts';

/** Receive-side columns of /proc/net/dev, in order. */
export const NET_DEV_RX = [
  'bytes',
  'packets',
  'errs',
  'drop',
  'fifo',
  'frame',
  'compressed',
  'multicast',
] as const;
/** Transmit-side columns of /proc/net/dev, in order. */
export const NET_DEV_TX = [
  'bytes',
  'packets',
  'errs',
  'drop',
  'fifo',
  'colls',
  'carrier',
  'compressed',
] as const;

/** One interface of /proc/net/dev: counters since the interface appeared. */
export interface NetDevRecord {
  readonly name: string;
  readonly rx: Readonly<Record<(typeof NET_DEV_RX)[number], number>>;
  readonly tx: Readonly<Record<(typeof NET_DEV_TX)[number], number>>;
}

/**
 * Parses /proc/net/dev (or /proc/PID/net/dev: the same format, for that process's network
 * namespace). Two header lines, then `name: 16 counters`.
 */
export function parseNetDev(text: string, source = '/proc/net/dev'): NetDevRecord[] {
  const out: NetDevRecord[] = [];
  const all = text.split('\n');
  for (let i = 2; i < all.length; i += 1) {
    const l = all[i] ?? '';
    if (l.trim() === '') continue;
    const colon = l.indexOf(':');
    if (colon < 0) throw new ParseError(source, i + 1, 'expected "interface: counters"');
    const name = l.slice(0, colon).trim();
    const fields = l
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (fields.length < 16)
      throw new ParseError(source, i + 1, `truncated line for ${name}: ${fields.length} of 16 counters`);
    const rx = {} as Record<(typeof NET_DEV_RX)[number], number>;
    const tx = {} as Record<(typeof NET_DEV_TX)[number], number>;
    NET_DEV_RX.forEach((key, j) => (rx[key] = toNumber(fields[j], source, i + 1, `${name} rx ${key}`)));
    NET_DEV_TX.forEach((key, j) => (tx[key] = toNumber(fields[j + 8], source, i + 1, `${name} tx ${key}`)));
    out.push({ name, rx, tx });
  }
  if (out.length === 0 && !/Inter-\|/.test(text))
    throw new ParseError(source, 1, 'not a net/dev table (no header)');
  return out;
}
