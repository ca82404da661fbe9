import { KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { withDeadline } from './deadline.ts';

/**
 * Watch-based caches of Kubernetes objects, shared by the receivers that follow the API
 * (cgroups' pod enrichment, kubevirt's VM discovery). Each source is one LIST, then a WATCH
 * from its resourceVersion (client-node's `ListWatch`); a watch that ends is resumed from the
 * last version seen; `410 Gone` (the version is too old) makes it LIST again, and objects that
 * are no longer listed are dropped. Any other failure (connection refused, 401/403, a stream
 * that breaks) is reported and the source is retried with a backoff that doubles up to 30 s
 * and starts again from the first delay once the source answers. A watch that stays open
 * but silent (a half-open connection to an API server that is gone) is closed after 30 s
 * without a byte by client-node's `Watch` and resumed at once from the last version seen.
 */

/** One collection to list and watch. */
export interface WatchSource<T extends KubernetesObject> {
  /** Watch path, e.g. `/api/v1/pods` or `/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances`. */
  readonly path: string;
  /** The LIST of the same collection with the same selectors. */
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/** How a watch connects and reports. */
export interface ObjectWatchOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** Collections cached together (one per namespace, or one for all namespaces). */
  readonly sources: readonly WatchSource<T>[];
  /** Called with every failure (list, watch) and the source's path; the source is retried after a delay. */
  readonly onError: (error: unknown, path: string) => void;
  /** Called once when a source that failed answers again (a list or an event arrives). */
  readonly onRecovered?: (path: string) => void;
  /** First retry delay after a failure, doubled up to 30 s. Default 1 s. */
  readonly retryDelayMs?: number;
  /** Longest a LIST may take before it is reported as failed and retried. Default 30 s. */
  readonly listDeadlineMs?: number;
}

/** The objects of one or more watched collections. */
export interface ObjectWatch<T extends KubernetesObject> {
  /** Goes up whenever an object is added, changed or removed. */
  readonly version: number;
  /** Every object currently known, across sources. */
  objects(): readonly T[];
  /** Starts listing and watching; returns without waiting for the first list. Safe to call twice. */
  start(): void;
  /** Stops watching; safe to call twice or before `start()`. */
  stop(): Promise<void>;
}

/**
 * The HTTP status of a failed list or watch (client-node's `ApiException.code` for a LIST,
 * `statusCode` for a WATCH), or undefined for a failure without one (connection refused, reset).
 */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  if (typeof code === 'number') return code;
  return undefined;
}

/** A KubeConfig from a receiver's settings: in-cluster service account or a kubeconfig file. */
export function loadKubeConfig(auth: 'service_account' | 'kubeconfig', file?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (auth === 'kubeconfig' && file !== undefined) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

const MAX_RETRY_DELAY_MS = 30_000;
const DEFAULT_RETRY_DELAY_MS = 1000;
const DEFAULT_LIST_DEADLINE_MS = 30_000;

/**
 * A `Watch` that opens nothing once stopped: `ListWatch.stop()` during an in-flight LIST would
 * otherwise open a watch after the stop, which nobody aborts.
 */
class StoppableWatch extends Watch {
  stopped = false;

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.stopped) {
      const controller = new AbortController();
      controller.abort();
      done(null);
      return controller;
    }
    return super.watch(path, queryParams, callback, done);
  }
}

interface RunningSource<T extends KubernetesObject> {
  readonly informer: ListWatch<T>;
  readonly watch: StoppableWatch;
  retryDelay: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** Whether the last thing the source did was to fail. */
  failing: boolean;
  /** Starts (or restarts after a failure) this source's list and watch. */
  run: () => void;
}

/** Lists and watches every source into one cache. */
export function createObjectWatch<T extends KubernetesObject>(
  options: ObjectWatchOptions<T>,
): ObjectWatch<T> {
  const firstDelay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const listDeadline = options.listDeadlineMs ?? DEFAULT_LIST_DEADLINE_MS;
  let version = 0;
  let stopped = true;

  const running = options.sources.map((source): RunningSource<T> => {
    const watch = new StoppableWatch(options.kubeConfig);
    // An API server that does not answer a LIST: reported at the deadline and retried, the
    // retry waiting on the same request (one in flight per source, never a pile of them).
    let listing: Promise<KubernetesListObject<T>> | undefined;
    const list = (): Promise<KubernetesListObject<T>> => {
      listing ??= source.list().finally(() => {
        listing = undefined;
      });
      return withDeadline(listing, listDeadline, `LIST ${source.path}`);
    };
    const state: RunningSource<T> = {
      watch,
      retryDelay: firstDelay,
      retryTimer: undefined,
      failing: false,
      run: () => undefined,
      informer: new ListWatch<T>(
        source.path,
        watch,
        async () => {
          const objects = await list();
          answered();
          return objects;
        },
        false,
        source.labelSelector,
        source.fieldSelector,
      ),
    };
    const answered = (): void => {
      state.retryDelay = firstDelay;
      if (!state.failing) return;
      state.failing = false;
      options.onRecovered?.(source.path);
    };
    const changed = (): void => {
      version += 1;
      answered();
    };
    state.run = (): void => {
      state.retryTimer = undefined;
      // The ListWatch reports its own failures through the 'error' callback; a rejection here
      // can only come from building the request (credentials), reported the same way.
      state.informer.start().catch(failed);
    };
    const failed = (error: unknown): void => {
      // Stopping aborts the open watch, which the ListWatch reports as an error: not one.
      if (stopped) return;
      state.failing = true;
      options.onError(error, source.path);
      if (state.retryTimer !== undefined) return;
      state.retryTimer = setTimeout(state.run, state.retryDelay);
      state.retryTimer.unref();
      state.retryDelay = Math.min(state.retryDelay * 2, MAX_RETRY_DELAY_MS);
    };
    state.informer.on('add', changed);
    state.informer.on('update', changed);
    state.informer.on('delete', changed);
    state.informer.on('error', failed);
    return state;
  });

  return {
    get version() {
      return version;
    },
    objects() {
      if (running.length === 1) return running[0]?.informer.list() ?? [];
      return running.flatMap((source) => source.informer.list());
    },
    start() {
      if (!stopped) return;
      stopped = false;
      for (const source of running) {
        source.watch.stopped = false;
        source.run();
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        running.map(async (source) => {
          source.watch.stopped = true;
          if (source.retryTimer !== undefined) clearTimeout(source.retryTimer);
          source.retryTimer = undefined;
          await source.informer.stop();
        }),
      );
    },
  };
}
