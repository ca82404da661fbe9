import type { LogLine } from './log-line.ts';

/**
 * Where the collection of one container's log stands: the newest timestamp seen and the lines
 * seen at exactly that timestamp. The next fetch asks for `sinceTime` at or before it (the API
 * takes whole seconds and includes lines at the instant itself), so the lines it returns again
 * are dropped here: older than the cursor, or at its instant and already seen. Nothing is
 * skipped: a line newer than the cursor, or a new line at the same instant, is kept.
 */
export interface Cursor {
  /** Nanoseconds since the epoch of the newest line seen. */
  readonly timeNs: bigint;
  /** The text of every line seen at `timeNs` (repeated lines repeated). */
  readonly seen: readonly string[];
}

/** The lines of a fetch that were not collected before, and the cursor after them. */
export function selectNewLines(
  lines: readonly LogLine[],
  cursor: Cursor | undefined,
): { fresh: LogLine[]; cursor: Cursor | undefined } {
  const fresh: LogLine[] = [];
  const pending = new Map<string, number>();
  for (const text of cursor?.seen ?? []) pending.set(text, (pending.get(text) ?? 0) + 1);
  for (const line of lines) {
    if (cursor !== undefined) {
      if (line.timeNs < cursor.timeNs) continue;
      if (line.timeNs === cursor.timeNs) {
        const left = pending.get(line.text) ?? 0;
        if (left > 0) {
          pending.set(line.text, left - 1);
          continue;
        }
      }
    }
    fresh.push(line);
  }
  let timeNs = cursor?.timeNs;
  for (const line of fresh) if (timeNs === undefined || line.timeNs > timeNs) timeNs = line.timeNs;
  if (timeNs === undefined) return { fresh, cursor };
  const seen = timeNs === cursor?.timeNs ? [...cursor.seen] : [];
  for (const line of fresh) if (line.timeNs === timeNs) seen.push(line.text);
  return { fresh, cursor: { timeNs, seen } };
}

/** A cursor as JSON (the state file): the time as a decimal string. */
export function cursorToJson(cursor: Cursor): { time_ns: string; seen: string[] } {
  return { time_ns: cursor.timeNs.toString(), seen: [...cursor.seen] };
}

/** A cursor from the state file; undefined when the entry is malformed. */
export function cursorFromJson(value: unknown): Cursor | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { time_ns: time, seen } = value as { time_ns?: unknown; seen?: unknown };
  if (typeof time !== 'string' || !/^\d+$/.test(time)) return undefined;
  if (!Array.isArray(seen) || !seen.every((s) => typeof s === 'string')) return undefined;
  return { timeNs: BigInt(time), seen: seen };
}
