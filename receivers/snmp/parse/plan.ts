import type { Profile } from '../profile.ts';
import type { Column } from './table.ts';

/** SNMPv2-MIB sysUpTime.0: read with every poll to tell a reboot from a counter wrap. */
export const SYS_UP_TIME = '1.3.6.1.2.1.1.3.0';

/** What one poll of a target requests. */
export interface PollPlan {
  /** Instances read with GET, sysUpTime first. */
  readonly scalars: readonly string[];
  /** Columns walked with GETBULK. */
  readonly columns: readonly string[];
}

/** The OIDs the profiles of a target need, each once. */
export function planPoll(profiles: readonly Profile[]): PollPlan {
  const scalars = new Set<string>([SYS_UP_TIME]);
  const columns = new Set<string>();
  for (const profile of profiles) {
    for (const attribute of profile.scalars.attributes)
      if (attribute.oid !== undefined) scalars.add(attribute.oid);
    for (const metric of profile.scalars.metrics) {
      scalars.add(metric.oid);
      if (metric.fallback_oid !== undefined) scalars.add(metric.fallback_oid);
    }
    for (const table of profile.tables) {
      for (const attribute of table.attributes) if (attribute.oid !== undefined) columns.add(attribute.oid);
      for (const metric of table.metrics) {
        columns.add(metric.oid);
        if (metric.decimal_digits_oid !== undefined) columns.add(metric.decimal_digits_oid);
      }
    }
  }
  return { scalars: [...scalars], columns: [...columns] };
}

/**
 * The fallback columns worth walking after the first walk: those of metrics whose own column
 * lacks rows that other value columns of the same table have (a device without ifXTable, or
 * with 64-bit counters for some interfaces only).
 */
export function fallbackColumns(
  profiles: readonly Profile[],
  columns: ReadonlyMap<string, Column>,
): string[] {
  const needed = new Set<string>();
  for (const profile of profiles) {
    for (const table of profile.tables) {
      const indexes = new Set<string>();
      for (const metric of table.metrics)
        for (const index of columns.get(metric.oid)?.keys() ?? []) indexes.add(index);
      for (const metric of table.metrics) {
        if (metric.fallback_oid === undefined || columns.has(metric.fallback_oid)) continue;
        const rows = columns.get(metric.oid);
        if ((rows?.size ?? 0) < indexes.size) needed.add(metric.fallback_oid);
      }
    }
  }
  return [...needed];
}
