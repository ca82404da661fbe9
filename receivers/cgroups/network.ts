import { parseNetDev } from '../../kit/procfs/net-dev.ts';
import type { NetworkStats } from './stats.ts';

/**
 * Byte and packet counters per interface of /proc/PID/net/dev (the network namespace of PID),
 * parsed by the kit's /proc/net/dev parser (the procfs receiver's too).
 *
 * @throws ParseError on a malformed table.
 */
export function parseNetworkStats(text: string, source: string): NetworkStats[] {
  return parseNetDev(text, source).map((record) => ({
    name: record.name,
    rxBytes: record.rx.bytes,
    txBytes: record.tx.bytes,
    rxPackets: record.rx.packets,
    txPackets: record.tx.packets,
  }));
}
