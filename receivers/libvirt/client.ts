import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { childEnvironment } from '../../kit/child-env.ts';
import { TimeoutError } from '../../kit/errors.ts';
import type { DomainStats, HostStats } from './parse/stats.ts';
import type { Collected } from './session.ts';
import type { Request, Response } from './worker.ts';

/** The id of the message that says a connection's thread or process is ready (worker.ts). */
const READY = -1;

export type { HostStats } from './parse/stats.ts';

/**
 * libvirt connections as the receiver sees them. Each connection lives in a process of its
 * own (worker.ts, session.ts) making synchronous libvirt calls: the event loop never waits
 * for libvirt, and a hypervisor that hangs holds only its own process, which a deadline
 * ends with SIGKILL whatever libvirt is blocked in (a thread blocked in a C call can be
 * neither stopped nor joined: it would keep the collector from exiting). libvirt's
 * in-memory test driver (`test:` URIs), which does no I/O and whose state belongs to the
 * process, runs in a thread of the collector instead. One scrape is two messages.
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
  /** Ends the connection at once (its process killed): a call past its deadline. */
  abort(): void;
}

export interface ConnectionOptions {
  /**
   * Called after the bulk call listed the domains and before their per-domain calls (tests
   * use it to make a domain vanish exactly there).
   */
  readonly afterList?: (names: readonly string[]) => void | Promise<void>;
  /** Longest the open may take before its process is killed (ms); default 30 s. */
  readonly deadlineMs?: number;
}

/** Longest an open may take when the caller gives no deadline. */
const DEFAULT_OPEN_DEADLINE_MS = 30_000;
/** Longest a connection's process may take to start (a busy machine), before its own deadlines count. */
const START_DEADLINE_MS = 30_000;
/** Longest a close may take before the connection's process is killed. */
const CLOSE_DEADLINE_MS = 1000;
/** Variables a connection process may need besides the base ones (ssh agent, Kerberos, libvirt's own). */
const CONNECTION_ENV = ['SSH_AUTH_SOCK', 'KRB5CCNAME', 'KRB5_CONFIG', 'LIBVIRT_*', 'VIRSH_*'];

const WORKER = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** A connection's thread or process, as the client drives it. */
interface Carrier {
  post(request: Request): void;
  attach(onMessage: (r: Response) => void, onFailure: (e: Error) => void): () => void;
  /** Ends it at once, whatever it is doing. */
  kill(): void;
  ref(): void;
  unref(): void;
  readonly alive: boolean;
  /** Whether it said it is ready for requests. */
  ready: boolean;
}

let handlerInstalled: Promise<void> | undefined;

/** Errors without a connection, raised by this process's own threads, are quieted on the main thread. */
async function quietThreadErrors(): Promise<void> {
  const session = await import('./session.ts');
  session.quietProcessErrors();
}

function threadCarrier(uri: string): Carrier {
  const worker = new Worker(WORKER, { workerData: { uri } });
  let alive = true;
  worker.once('exit', () => (alive = false));
  return {
    post: (request) => {
      worker.postMessage(request);
    },
    attach(onMessage, onFailure) {
      const onError = (error: Error): void => {
        onFailure(new Error(`${uri}: libvirt thread failed: ${error.message}`, { cause: error }));
      };
      const onExit = (code: number): void => {
        onFailure(new Error(`${uri}: libvirt thread exited (${String(code)})`));
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      return () => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
    },
    kill: () => void worker.terminate(),
    ref: () => {
      worker.ref();
    },
    unref: () => {
      worker.unref();
    },
    get alive() {
      return alive;
    },
    ready: false,
  };
}

function processCarrier(uri: string): Carrier {
  const child: ChildProcess = fork(WORKER, [uri], {
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: childEnvironment(CONNECTION_ENV),
  });
  let alive = true;
  child.once('exit', () => (alive = false));
  // A failed spawn is reported through attach; without a listener it would throw.
  child.on('error', () => undefined);
  return {
    post: (request) => {
      if (alive && child.connected) child.send(request);
    },
    attach(onMessage, onFailure) {
      const onMessage_ = (message: unknown): void => {
        onMessage(message as Response);
      };
      const onError = (error: Error): void => {
        onFailure(new Error(`${uri}: libvirt process failed: ${error.message}`, { cause: error }));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        onFailure(new Error(`${uri}: libvirt process exited (${signal ?? String(code)})`));
      };
      child.on('message', onMessage_).on('error', onError).on('exit', onExit);
      return () => {
        child.off('message', onMessage_).off('error', onError).off('exit', onExit);
      };
    },
    kill: () => {
      if (alive) child.kill('SIGKILL');
    },
    ref: () => {
      child.ref();
      child.channel?.ref();
    },
    unref: () => {
      child.unref();
      child.channel?.unref();
    },
    get alive() {
      return alive;
    },
    ready: false,
  };
}

/** The carrier of a new connection to `uri`: a thread for the in-memory test driver, a process otherwise. */
function createCarrier(uri: string): Carrier {
  return uri.startsWith('test:') ? threadCarrier(uri) : processCarrier(uri);
}

/**
 * Carriers whose connection was closed (or refused), kept per URI for the next open: a
 * reconnection costs a message, not a process start. One that did not answer in time is
 * never kept.
 */
const idle = new Map<string, Carrier[]>();

/** Ends the idle connection processes and threads kept for `uri` (the receiver's shutdown). */
export function endIdleThreads(uri: string): Promise<void> {
  const carriers = idle.get(uri) ?? [];
  idle.delete(uri);
  for (const c of carriers) c.kill();
  return Promise.resolve();
}

function keep(uri: string, carrier: Carrier, detach: () => void): void {
  detach();
  carrier.unref();
  const list = idle.get(uri) ?? [];
  list.push(carrier);
  idle.set(uri, list);
}

/**
 * Opens a read-only connection in a process (or thread) of its own; a refusal throws with
 * libvirt's own message, an open past its deadline with a TimeoutError (its process killed).
 */
export async function openConnection(
  uri: string,
  options: ConnectionOptions = {},
): Promise<LibvirtConnection> {
  if (uri.startsWith('test:')) await (handlerInstalled ??= quietThreadErrors());
  const kept = (idle.get(uri) ?? []).filter((c) => c.alive);
  const carrier = kept.pop() ?? createCarrier(uri);
  idle.set(uri, kept);
  carrier.unref();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  // A kept carrier is ready already; a new one says so once it has loaded.
  const ready = carrier.ready
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        pending.set(READY, {
          resolve: () => {
            resolve();
          },
          reject,
        });
      });
  let next = 0;
  let gone: Error | undefined;
  const lostWith = (): Error | undefined => gone;
  const failAll = (error: Error): void => {
    gone ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    carrier.unref();
  };
  const detach = carrier.attach((response) => {
    const p = pending.get(response.id);
    if (p === undefined) return;
    pending.delete(response.id);
    if (response.id === READY) carrier.ready = true;
    if (pending.size === 0) carrier.unref();
    if (response.ok) p.resolve(response.value);
    else p.reject(new Error(response.message));
  }, failAll);
  /** Abandons the connection: every call fails, the process is killed, nothing is kept. */
  const abort = (error: Error): void => {
    failAll(error);
    detach();
    carrier.kill();
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
      carrier.ref();
      carrier.post({ id, op } satisfies Request);
    });
  const deadlineMs = options.deadlineMs ?? DEFAULT_OPEN_DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = (ms: number, what: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      abort(new TimeoutError(`${uri}: ${what}`, ms));
    }, ms);
    timer.unref();
  };
  try {
    carrier.ref();
    deadline(START_DEADLINE_MS, 'starting the connection process');
    await ready;
    deadline(deadlineMs, 'opening the connection');
    await ask('open');
  } catch (error) {
    if (gone === undefined) keep(uri, carrier, detach);
    throw error;
  } finally {
    clearTimeout(timer);
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
      if (gone !== undefined) {
        abort(gone);
        return;
      }
      // A connection stuck in a call to a hung hypervisor does not answer: it is killed.
      const answered = await Promise.race([
        ask('close').then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((r) => {
          setTimeout(() => {
            r(false);
          }, CLOSE_DEADLINE_MS).unref();
        }),
      ]);
      // Read again: the close may have failed the connection meanwhile.
      const lost = lostWith();
      if (answered && lost === undefined) keep(uri, carrier, detach);
      else abort(lost ?? new Error(`${uri}: closed`));
    },
    abort() {
      abort(new Error(`${uri}: aborted`));
    },
  };
}
