import { setFlagsFromString } from 'node:v8';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { countPoints } from '../kit/metrics-data.ts';

/**
 * V8 heap settings for the long-running `inframeter run`. A collector's live heap is small
 * (about 20 MB for the default pipeline) but it allocates on every scrape; with V8's defaults
 * the young generation grows to 32 MB per semi-space and the old generation to several times
 * the live heap before a full collection, so the resident size settles at two to three times
 * what is live. A 2 MB semi-space, a 30 % heap growing step and V8's `--optimize-for-size`
 * (smaller heap growth and pages) keep it flat and much lower, for some more
 * garbage-collection CPU; `--single-threaded-gc` gives part of it back: on heaps this small,
 * V8's parallel and concurrent collector threads cost more CPU in coordination than they
 * save (figures in the README's performance section).
 *
 * V8 sizes its heap when the isolate starts (`v8.setFlagsFromString` comes too late for
 * these), so the entry point re-executes Node.js with the flags, in the same process
 * (`process.execve`: same PID, same file descriptors, nothing left behind), before loading
 * anything else. It does not when the user chose heap flags (on the command line or in
 * NODE_OPTIONS), when `INFRAMETER_HEAP_FLAGS=off`, or where `process.execve` does not exist.
 * At start, `inframeter run` decides from its configuration what it changes at run time
 * ({@link applyHeapPolicy}): a gateway (an otlp receiver) changes the growing step and gives
 * up `--optimize-for-size` at once ({@link INGEST_HEAP_FLAGS}); a collector with cgroups,
 * process or kubevirt receivers takes a larger growing step from its first large scrape
 * ({@link LARGE_SCRAPE_HEAP_FLAGS}). Components never set V8 flags.
 */
export const HEAP_FLAGS: readonly string[] = [
  '--max-semi-space-size=2',
  '--heap-growing-percent=30',
  '--optimize-for-size',
  '--single-threaded-gc',
];

/** Set in the environment of the re-executed process, so that it does not loop. */
export const HEAP_FLAGS_APPLIED = 'INFRAMETER_HEAP_FLAGS_APPLIED';
const APPLIED = HEAP_FLAGS_APPLIED;

/**
 * What a collector that ingests pushed data (the otlp receiver: a gateway) changes in
 * {@link HEAP_FLAGS}: the old generation's growing step goes back to V8's own (0: V8 chooses
 * it from the garbage-collection speed). A gateway's heap is full of points on their way
 * (decoded, batched, waiting for the CSV write) that die after tens of milliseconds in the old
 * generation; with a fixed 30 % step V8 runs a full collection about every 100 ms under load,
 * which cost a third of the gateway's CPU; `--optimize-for-size` is switched off with it. The
 * semi-space stays. Unlike the semi-space size, both are read as the heap grows, so they can
 * be changed at run time.
 */
export const INGEST_HEAP_FLAGS = '--heap-growing-percent=0 --no-optimize-for-size';

/** Whether {@link INGEST_HEAP_FLAGS} apply: only over the heap flags that `inframeter run` set itself. */
export function ingestHeapFlagsApply(env: NodeJS.ProcessEnv): boolean {
  return env[APPLIED] === '1';
}

/** Series in one scrape of one receiver from which {@link LARGE_SCRAPE_HEAP_FLAGS} pay. */
export const LARGE_SCRAPE_SERIES = 20_000;

/**
 * What a collector whose scrapes are large (a thousand cgroups, every process of a busy host:
 * more than {@link LARGE_SCRAPE_SERIES} series from one receiver) changes in
 * {@link HEAP_FLAGS}: the old generation grows in steps of 60 % rather than 30 %. Each of its
 * scrapes leaves megabytes of points in the old generation, and under `--optimize-for-size`
 * every full collection marks and compacts the whole heap (tens of thousands of series, each
 * with its attributes): with the smaller step, full collections came every second scrape and
 * took a third of the scrape's CPU. The larger step halves their number for a few more
 * megabytes resident. Decided at start from the configuration: a collector with a receiver of
 * the {@link LARGE_SCRAPE_RECEIVERS} types watches what those push, and takes the larger
 * step from the first batch of {@link LARGE_SCRAPE_SERIES} points or more
 * ({@link largeScrapeWatch}). A small collector (procfs alone, or the default pipeline on an
 * ordinary host, whose cgroups and process scrapes stay small) keeps its footprint; a
 * gateway's own change ({@link INGEST_HEAP_FLAGS}) takes precedence.
 */
export const LARGE_SCRAPE_HEAP_FLAGS = '--heap-growing-percent=60';

/** Receiver types that make a collector a gateway: they ingest what others push. */
export const INGEST_RECEIVERS: readonly string[] = ['otlp'];

/**
 * Receiver types whose scrapes reach tens of thousands of series on the hosts they are meant
 * for (every cgroup, every process, every virtual machine's cgroups and processes).
 */
export const LARGE_SCRAPE_RECEIVERS: readonly string[] = ['cgroups', 'process', 'kubevirt'];

/** The heap policy of one `inframeter run`, decided once at start from the configuration. */
export interface HeapPolicy {
  /** `gateway`, `large-scrapes`, or `default` ({@link HEAP_FLAGS} alone, or the user's flags). */
  readonly policy: 'gateway' | 'large-scrapes' | 'default';
  /** The V8 flags it sets on top of those of the re-execution; undefined: none. */
  readonly flags: string | undefined;
  /** When: at start (a gateway), or from the first large scrape (see {@link largeScrapeWatch}). */
  readonly from: 'start' | 'first-large-scrape';
  /** Why, in a few words, for the log. */
  readonly reason: string;
}

/**
 * Decides the heap policy from the types of the configured receivers: a gateway (an
 * {@link INGEST_RECEIVERS} type) gets {@link INGEST_HEAP_FLAGS}; otherwise a collector with a
 * {@link LARGE_SCRAPE_RECEIVERS} type gets {@link LARGE_SCRAPE_HEAP_FLAGS}; only over the heap
 * flags `inframeter run` set itself ({@link ingestHeapFlagsApply}).
 */
export function decideHeapPolicy(receiverTypes: Iterable<string>, env: NodeJS.ProcessEnv): HeapPolicy {
  const types = new Set(receiverTypes);
  if (!ingestHeapFlagsApply(env))
    return {
      policy: 'default',
      flags: undefined,
      from: 'start',
      reason: "the heap flags are not inframeter run's own",
    };
  const ingest = INGEST_RECEIVERS.filter((t) => types.has(t));
  if (ingest.length > 0)
    return {
      policy: 'gateway',
      flags: INGEST_HEAP_FLAGS,
      from: 'start',
      reason: `a gateway: ${ingest.join(', ')} receiver`,
    };
  const large = LARGE_SCRAPE_RECEIVERS.filter((t) => types.has(t));
  if (large.length > 0)
    return {
      policy: 'large-scrapes',
      flags: LARGE_SCRAPE_HEAP_FLAGS,
      from: 'first-large-scrape',
      reason: `large scrapes: ${large.join(', ')} receiver, from a scrape of ${String(LARGE_SCRAPE_SERIES)} series or more`,
    };
  return {
    policy: 'default',
    flags: undefined,
    from: 'start',
    reason: 'no gateway receiver and no large scrapes',
  };
}

/** The policy decided in this process, if any (it is decided once). */
let decided: HeapPolicy | undefined;
/** Whether {@link LARGE_SCRAPE_HEAP_FLAGS} were set in this process. */
let largeScrapeFlagsSet = false;

/**
 * Decides the heap policy ({@link decideHeapPolicy}) once per process and sets the flags it
 * sets at start: `inframeter run` calls it before any component is created. A second call
 * returns the first decision and changes nothing.
 */
export function applyHeapPolicy(
  receiverTypes: Iterable<string>,
  env: NodeJS.ProcessEnv = process.env,
): HeapPolicy {
  if (decided !== undefined) return decided;
  const policy = decideHeapPolicy(receiverTypes, env);
  if (policy.flags !== undefined && policy.from === 'start') setFlagsFromString(policy.flags);
  decided = policy;
  return policy;
}

/** Sets {@link LARGE_SCRAPE_HEAP_FLAGS} once; returns whether this call did. */
export function applyLargeScrapeHeapFlags(): boolean {
  if (largeScrapeFlagsSet) return false;
  setFlagsFromString(LARGE_SCRAPE_HEAP_FLAGS);
  largeScrapeFlagsSet = true;
  return true;
}

/** Whether {@link LARGE_SCRAPE_HEAP_FLAGS} were set in this process. */
export function largeScrapeHeapFlagsApplied(): boolean {
  return largeScrapeFlagsSet;
}

/**
 * Under the large-scrapes policy, the watch `inframeter run` puts on what the receivers of the
 * {@link LARGE_SCRAPE_RECEIVERS} types push (`receivers`: id → type): the first batch of
 * {@link LARGE_SCRAPE_SERIES} points or more sets {@link LARGE_SCRAPE_HEAP_FLAGS} (the watch
 * then returns true, once). Undefined under the other policies.
 */
export function largeScrapeWatch(
  policy: HeapPolicy,
  receivers: ReadonlyMap<string, string>,
): ((receiverId: string, batch: ResourceMetrics) => boolean) | undefined {
  if (policy.policy !== 'large-scrapes') return undefined;
  const watched = new Set(
    [...receivers].filter(([, type]) => LARGE_SCRAPE_RECEIVERS.includes(type)).map(([id]) => id),
  );
  return (receiverId, batch) =>
    !largeScrapeFlagsSet &&
    watched.has(receiverId) &&
    countPoints(batch) >= LARGE_SCRAPE_SERIES &&
    applyLargeScrapeHeapFlags();
}

const FLAG_NAMES =
  /--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor|max-old-space-size|max-heap-size|heap-growing-percent)\b/;

/** The command line of the re-execution, or undefined when none is needed. */
export function heapFlagsArgv(
  argv: readonly string[],
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
): string[] | undefined {
  if (argv[2] !== 'run') return undefined;
  if (env[APPLIED] !== undefined || env.INFRAMETER_HEAP_FLAGS === 'off') return undefined;
  if (execArgv.some((a) => FLAG_NAMES.test(a)) || FLAG_NAMES.test(env.NODE_OPTIONS ?? '')) return undefined;
  return [process.execPath, ...HEAP_FLAGS, ...execArgv, ...argv.slice(1)];
}

/**
 * The environment of the re-execution: glibc's malloc limited to two arenas unless the user
 * set `MALLOC_ARENA_MAX` (each of V8's and libuv's threads that allocates would otherwise get
 * an arena of its own, several megabytes resident for a few allocations), and its mmap
 * threshold fixed at 128 KiB unless the user set `MALLOC_MMAP_THRESHOLD_`. By default glibc
 * raises that threshold to the size of each large block freed: after the first buffer of a few
 * hundred kilobytes (a CSV batch, a scrape's text) was freed, the next ones came from the main
 * heap and left it fragmented, 7 MiB more resident in the default configuration
 * (docs/performance.md, "Memory of the node agent"); a block mapped on its own is given back
 * to the system when freed.
 */
export function heapFlagsEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: String(128 * 1024), ...env, [APPLIED]: '1' };
}

/** Re-executes `inframeter run` with {@link HEAP_FLAGS} when they apply; returns otherwise. */
export function applyHeapFlags(): void {
  const args = heapFlagsArgv(process.argv, process.execArgv, process.env);
  if (args === undefined || typeof process.execve !== 'function') return;
  process.execve(process.execPath, args, heapFlagsEnv(process.env));
}
