import {
  applyHeapPolicy,
  applyLargeScrapeHeapFlags,
  HEAP_FLAGS,
  heapFlagsEnv,
} from '../../service/heap-flags.ts';

/**
 * Re-executes this benchmark (same PID, `process.execve`) with the heap flags and environment
 * `inframeter run` applies (service/heap-flags.ts), then the heap policy `inframeter run`
 * decides at start for a configuration with `receiverTypes` (a gateway's growing step, or
 * large scrapes' at once: the benchmarks' first scrape is large), so that its CPU and RSS are
 * the collector's. Does nothing when heap
 * flags were given, when `INFRAMETER_HEAP_FLAGS=off` (V8's defaults), or where
 * `process.execve` does not exist. Returns the flags in effect, for the output.
 */
export function applyCollectorHeapFlags(receiverTypes: readonly string[] = []): string {
  if (
    process.env.INFRAMETER_HEAP_FLAGS !== 'off' &&
    !process.execArgv.some((a) => /--(max-semi-space-size|heap-growing-percent)\b/.test(a)) &&
    typeof process.execve === 'function'
  ) {
    process.execve(
      process.execPath,
      [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
      { ...heapFlagsEnv(process.env), INFRAMETER_HEAP_FLAGS: 'off' },
    );
  }
  const flags = process.execArgv.join(' ') || "V8's defaults";
  const policy = applyHeapPolicy(receiverTypes);
  if (policy.flags === undefined) return flags;
  // The benchmarks' scrapes are large from the first: the larger step at once.
  if (policy.from === 'first-large-scrape') applyLargeScrapeHeapFlags();
  return `${flags}, then ${policy.flags} (${policy.reason})`;
}
