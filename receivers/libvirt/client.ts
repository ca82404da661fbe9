import { Worker } from 'node:worker_threads';
import type { DomainStats, HostStats } from './parse/stats.ts';
import type { Collected } from './session.ts';
import type { Request, Response } from './worker.ts';

export type { HostStats } from './parse/stats.ts';

/**
 * libvirt connections as the receiver sees them. Each connection lives in a worker thread
 * of its own (worker.ts, session.ts) making synchronous libvirt calls: the event loop never
 * waits for libvirt, a hypervisor that hangs holds only its own thread (never the other
 * connections, nor Node's thread pool), and one scrape is two messages per connection.
 */
export interface LibvirtConnection {
  readonly uri: string;
  /**
   * One bulk stats call, then per-domain calls for what the driver did not give in bulk.
   * `errors`: per domain (`URI domain NAME`), a domain that vanished between the list and its
   * own calls (not in `domains`) or calls that failed (the domain is there with the rest).
   */
  collect(): Promise<{ domains: DomainStats[]; host: HostStats; errors: ReadonlyMap<string, Error> }>;
  close(): Promise<void>;
}

export interface ConnectionOptions {
  /**
   * Called after the bulk call listed the domains and before their per-domain calls (tests
   * use it to make a domain vanish exactly there).
   */
  readonly afterList?: (names: readonly string[]) => void | Promise<void>;
}

let handlerInstalled: Promise<void> | undefined;

/**
 * libvirt reports errors raised without a connection (a failed open) to one process-wide
 * handler; without one it prints them on stderr. It is installed here, on the main thread,
 * whose event loop is always free to run it (koffi runs a callback on the thread that
 * registered it while the calling thread waits); the message itself is read by the thread
 * that made the call.
 */
async function installErrorHandler(): Promise<void> {
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libvirt.so.0');
  const ErrorFunc = koffi.proto('void inframeter_virErrorFuncMain(void *userData, void *error)');
  const setErrorFunc = lib.func('void virSetErrorFunc(void *userData, inframeter_virErrorFuncMain *handler)');
  setErrorFunc(
    null,
    koffi.register(() => undefined, koffi.pointer(ErrorFunc)),
  );
}

const WORKER = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * Threads whose connection was closed (or refused), kept per URI for the next open: a
 * reconnection costs a message, not a thread start. A thread that did not answer is never
 * kept.
 */
const idle = new Map<string, Worker[]>();

/** Ends the idle threads kept for `uri` (the receiver's shutdown). */
export async function endIdleThreads(uri: string): Promise<void> {
  const workers = idle.get(uri) ?? [];
  idle.delete(uri);
  await Promise.all(workers.map((w) => w.terminate()));
}

function keep(uri: string, worker: Worker, detach: () => void): void {
  detach();
  worker.unref();
  const list = idle.get(uri) ?? [];
  list.push(worker);
  idle.set(uri, list);
}

/** Opens a read-only connection in a thread of its own; a refusal throws with libvirt's own message. */
export async function openConnection(
  uri: string,
  options: ConnectionOptions = {},
): Promise<LibvirtConnection> {
  await (handlerInstalled ??= installErrorHandler());
  const kept = (idle.get(uri) ?? []).filter((w) => w.threadId !== -1);
  const worker = kept.pop() ?? new Worker(WORKER, { workerData: { uri } });
  idle.set(uri, kept);
  worker.unref();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let gone: Error | undefined;
  const failAll = (error: Error): void => {
    gone = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const onMessage = (response: Response): void => {
    const p = pending.get(response.id);
    if (p === undefined) return;
    pending.delete(response.id);
    if (pending.size === 0) worker.unref();
    if (response.ok) p.resolve(response.value);
    else p.reject(new Error(response.message));
  };
  const onError = (error: Error): void => {
    failAll(new Error(`${uri}: libvirt thread failed: ${error.message}`, { cause: error }));
  };
  const onExit = (code: number): void => {
    failAll(new Error(`${uri}: libvirt thread exited (${String(code)})`));
  };
  worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  const detach = (): void => {
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  };
  const ask = <T>(op: Request['op']): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (gone !== undefined) {
        reject(gone);
        return;
      }
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // A request in flight keeps the process alive; an idle connection does not.
      worker.ref();
      worker.postMessage({ id, op } satisfies Request);
    });
  try {
    await ask('open');
  } catch (error) {
    if (gone === undefined) keep(uri, worker, detach);
    throw error;
  }
  return {
    uri,
    async collect() {
      const names = await ask<string[]>('list');
      await options.afterList?.(names);
      const collected = await ask<Collected>('fill');
      return {
        domains: collected.domains,
        host: collected.host,
        errors: new Map(collected.errors.map(([key, message]) => [key, new Error(message)])),
      };
    },
    async close() {
      // A thread stuck in a call to a hung hypervisor does not answer: it is left to end.
      const answered = await Promise.race([
        ask('close').then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((r) => {
          setTimeout(() => {
            r(false);
          }, 1000).unref();
        }),
      ]);
      if (answered && gone === undefined) keep(uri, worker, detach);
      else void worker.terminate();
    },
  };
}
