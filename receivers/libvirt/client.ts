import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { childEnvironment } from '../../kit/child-env.ts';
import { TimeoutError } from '../../kit/errors.ts';
import type { HostRequest, HostResponse } from './host.ts';
import type { DomainStats, HostStats } from './parse/stats.ts';
import type { Collected } from './session.ts';
import type { Request, Response } from './worker.ts';

/** The id of the message that says a connection's thread or process is ready (worker.ts). */
const READY = -1;

export type { HostStats } from './parse/stats.ts';

/**
 * libvirt connections as the receiver sees them. libvirt calls are synchronous and may
 * block for as long as a hypervisor keeps silent, so each connection has a thread of its
 * own, and the event loop never waits for libvirt (worker.ts, session.ts). The threads of
 * every connection live together in one shared child process (host.ts), a Node.js thread
 * each: a connection costs a thread, not a process. A thread blocked in a libvirt C call
 * can be neither stopped nor joined, so when a call outlives its deadline the connection is
 * suspect: the shared process is killed (SIGKILL) and a fresh one started, into which the
 * other connections reopen at once, and the suspect URI runs from then on in a process of
 * its own (quarantine: killed alone at each deadline, as a hung hypervisor needs) until it
 * has gone `QUARANTINE_MS` without a hang. libvirt's in-memory test driver (`test:` URIs),
 * which does no I/O and whose state belongs to the process, runs in a thread of the
 * collector instead. One scrape is two messages.
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
  /**
   * Ends the connection at once: a call past its deadline. Its URI is quarantined, and the
   * shared process it ran in is replaced (the other connections reopen in the new one).
   */
  abort(): void;
}

export interface ConnectionOptions {
  /**
   * Called after the bulk call listed the domains and before their per-domain calls (tests
   * use it to make a domain vanish exactly there).
   */
  readonly afterList?: (names: readonly string[]) => void | Promise<void>;
  /** Longest the open may take before the connection is ended as hung (ms); default 30 s. */
  readonly deadlineMs?: number;
}

/** Longest an open may take when the caller gives no deadline. */
const DEFAULT_OPEN_DEADLINE_MS = 30_000;
/** Longest a connection's thread or process may take to start (a busy machine), before its own deadlines count. */
const START_DEADLINE_MS = 30_000;
/** Longest a close may take before the connection is ended as hung. */
const CLOSE_DEADLINE_MS = 1000;
/** How long a URI whose call outlived its deadline runs in a process of its own after its last hang. */
export const QUARANTINE_MS = 10 * 60_000;
/** Longest a retired shared process lives on for its connections that have not reopened elsewhere yet. */
const DRAIN_MS = START_DEADLINE_MS + DEFAULT_OPEN_DEADLINE_MS;
/** How long the shared process stays up without connections (a reconnection soon after reuses it). */
const SHARED_IDLE_MS = 10_000;
/** Variables a connection process may need besides the base ones (ssh agent, Kerberos, libvirt's own). */
const CONNECTION_ENV = ['SSH_AUTH_SOCK', 'KRB5CCNAME', 'KRB5_CONFIG', 'LIBVIRT_*', 'VIRSH_*'];

const sibling = (name: string): URL =>
  new URL(import.meta.url.endsWith('.ts') ? `./${name}.ts` : `./${name}.js`, import.meta.url);
const WORKER = sibling('worker');
const HOST = sibling('host');

/**
 * Where a connection runs: a thread of the collector (the test driver), a thread of the
 * shared process, or a process of its own.
 */
export type Placement = 'thread' | 'shared' | 'process';

/** A connection's thread or process, as the client drives it. */
interface Carrier {
  readonly placement: Placement;
  /** The shared process holding it (placement `shared`). */
  readonly host?: SharedProcess;
  post(request: Request): void;
  attach(onMessage: (r: Response) => void, onFailure: (e: Error) => void): () => void;
  /** Ends it at once, whatever it is doing (a thread of the shared process: when it is not blocked). */
  kill(): void;
  ref(): void;
  unref(): void;
  readonly alive: boolean;
  /** Whether it said it is ready for requests. */
  ready: boolean;
}

/** A connection lost because the shared process it ran in was replaced for another's hang. */
class Replaced extends Error {}

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
    placement: 'thread',
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

/** A child process with IPC: a connection's own (worker.ts) or the shared one (host.ts). */
function forkChild(file: URL, args: string[]): ChildProcess {
  const child = fork(file, args, {
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: childEnvironment(CONNECTION_ENV),
  });
  // A failed spawn is reported through the exit listeners; without a listener it would throw.
  child.on('error', () => undefined);
  return child;
}

function refChild(child: ChildProcess, on: boolean): void {
  if (on) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

function processCarrier(uri: string): Carrier {
  const child = forkChild(WORKER, [uri]);
  let alive = true;
  child.once('exit', () => (alive = false));
  return {
    placement: 'process',
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
      refChild(child, true);
    },
    unref: () => {
      refChild(child, false);
    },
    get alive() {
      return alive;
    },
    ready: false,
  };
}

interface Member {
  readonly uri: string;
  onMessage: ((r: Response) => void) | undefined;
  onFailure: ((e: Error) => void) | undefined;
  /** Whether it has a call in flight (which keeps the collector's event loop alive). */
  busy: boolean;
}

/**
 * The shared connection process (host.ts) as the collector sees it: its connections by
 * number, the answers routed to each. It keeps the collector alive only while one of them
 * has a call in flight, and ends itself after `SHARED_IDLE_MS` without connections.
 *
 * When one of its threads hangs it is retired: new connections go to a new shared
 * process, its other connections reopen there and move over once open (collecting here
 * meanwhile, so they miss no interval), and it is killed, hung thread and all, as soon as
 * the last of them has left, or after `DRAIN_MS` whatever remains.
 */
class SharedProcess {
  readonly #child: ChildProcess;
  readonly #members = new Map<number, Member>();
  #next = 0;
  #alive = true;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Why it was retired, when a connection's hang was the reason. */
  #replacedFor: string | undefined;
  readonly #onReplaced: (host: SharedProcess) => void;

  constructor(onReplaced: (host: SharedProcess) => void) {
    this.#onReplaced = onReplaced;
    this.#child = forkChild(HOST, []);
    refChild(this.#child, false);
    this.#child.on('message', (message: HostResponse) => {
      const member = this.#members.get(message.conn);
      if (member === undefined) return;
      if ('response' in message) member.onMessage?.(message.response);
      else member.onFailure?.(new Error(`${member.uri}: ${message.exit}`));
    });
    this.#child.once('exit', (code, signal) => {
      this.#alive = false;
      clearTimeout(this.#idleTimer);
      const members = [...this.#members.values()];
      this.#members.clear();
      const how = signal ?? String(code);
      for (const m of members) {
        if (this.#replacedFor !== undefined)
          m.onFailure?.(new Replaced(`${m.uri}: libvirt shared process replaced (${this.#replacedFor})`));
        else if (m.busy) {
          // Died by itself (a crash in libvirt): the connections with a call in flight are
          // the suspects, quarantined; the others reopen in a new shared process.
          quarantined.set(m.uri, Date.now());
          m.onFailure?.(new Error(`${m.uri}: libvirt shared process exited (${how}) during a call`));
        } else m.onFailure?.(new Replaced(`${m.uri}: libvirt shared process exited (${how})`));
      }
      // A retired one told its connections already.
      if (this.#replacedFor === undefined) onReplaced(this);
    });
    this.#idle();
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Connections it holds now. */
  get size(): number {
    return this.#members.size;
  }

  /** Whether it was retired (it takes no new connection). */
  get retired(): boolean {
    return this.#replacedFor !== undefined;
  }

  /**
   * Retires it: a connection's call outlived its deadline (that connection has left it
   * already). Its other connections are told to reopen elsewhere; it is killed once they
   * have, or after `DRAIN_MS`.
   */
  retire(reason: string): void {
    if (!this.#alive || this.#replacedFor !== undefined) return;
    this.#replacedFor = reason;
    this.#onReplaced(this);
    setTimeout(() => {
      if (this.#alive) this.#child.kill('SIGKILL');
    }, DRAIN_MS).unref();
    this.#idle();
  }

  /** Ends it when it holds no connection (shutdown, or idle). */
  endIfIdle(): void {
    if (this.#alive && this.#members.size === 0) this.#child.kill('SIGKILL');
  }

  #send(message: HostRequest): void {
    if (this.#alive && this.#child.connected) this.#child.send(message);
  }

  #idle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#members.size > 0) return;
    if (this.#replacedFor !== undefined) {
      this.endIfIdle();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.endIfIdle();
    }, SHARED_IDLE_MS);
    this.#idleTimer.unref();
  }

  #refresh(): void {
    refChild(
      this.#child,
      [...this.#members.values()].some((m) => m.busy),
    );
  }

  /** A new connection's thread in this process. */
  carrier(uri: string): Carrier {
    const conn = this.#next++;
    const member: Member = { uri, busy: false, onMessage: undefined, onFailure: undefined };
    this.#members.set(conn, member);
    clearTimeout(this.#idleTimer);
    this.#send({ conn, start: uri });
    const leave = (): void => {
      if (!this.#members.delete(conn)) return;
      this.#send({ conn, end: true });
      this.#refresh();
      this.#idle();
    };
    const isAlive = (): boolean => this.#alive && this.#members.has(conn);
    const setBusy = (busy: boolean): void => {
      member.busy = busy;
      this.#refresh();
    };
    return {
      placement: 'shared',
      host: this,
      post: (request) => {
        this.#send({ conn, request });
      },
      attach(onMessage, onFailure) {
        member.onMessage = onMessage;
        member.onFailure = (error) => {
          leave();
          onFailure(error);
        };
        return () => {
          member.onMessage = undefined;
          member.onFailure = undefined;
        };
      },
      kill: leave,
      ref: () => {
        setBusy(true);
      },
      unref: () => {
        setBusy(false);
      },
      get alive() {
        return isAlive();
      },
      ready: false,
    };
  }
}

let shared: SharedProcess | undefined;
/** Called when a shared process was replaced: the connections it held reopen in the new one. */
const onSharedReplaced = new Set<(old: SharedProcess) => void>();

function sharedProcess(): SharedProcess {
  if (shared?.alive !== true || shared.retired)
    shared = new SharedProcess((old) => {
      if (shared === old) shared = undefined;
      for (const reopen of onSharedReplaced) reopen(old);
    });
  return shared;
}

/** URIs whose call outlived its deadline, with the time of their last hang. */
const quarantined = new Map<string, number>();
/** Where new connections go (benchmarks compare placements); a quarantined URI always gets a process. */
let defaults: { test: Placement; other: Placement } = { test: 'thread', other: 'shared' };

/**
 * Where new connections run: `shared` (the default) or `process` (each in its own, the
 * earlier model), test-driver URIs included; `undefined` restores the defaults. For
 * benchmarks comparing the two in one run.
 */
export function setPlacement(placement: 'shared' | 'process' | undefined): void {
  defaults =
    placement === undefined ? { test: 'thread', other: 'shared' } : { test: placement, other: placement };
}

/** Where a new connection to `uri` runs now. */
export function placementOf(uri: string): Placement {
  const since = quarantined.get(uri);
  if (since !== undefined) {
    if (Date.now() - since < QUARANTINE_MS) return 'process';
    quarantined.delete(uri);
  }
  return uri.startsWith('test:') ? defaults.test : defaults.other;
}

/**
 * Test-driver threads of the collector whose connection was closed (or refused), kept per
 * URI for the next open: a reconnection costs a message, not a thread start. One that did
 * not answer in time is never kept.
 */
const idle = new Map<string, Carrier[]>();

/**
 * Ends what is kept for `uri` once its connections are closed (the receiver's shutdown):
 * the idle test-driver threads, and the shared process if it holds no connection.
 */
export function endIdleThreads(uri: string): Promise<void> {
  const carriers = idle.get(uri) ?? [];
  idle.delete(uri);
  for (const c of carriers) c.kill();
  shared?.endIfIdle();
  return Promise.resolve();
}

function newCarrier(uri: string): Carrier {
  switch (placementOf(uri)) {
    case 'thread': {
      const kept = (idle.get(uri) ?? []).filter((c) => c.alive);
      const carrier = kept.pop() ?? threadCarrier(uri);
      idle.set(uri, kept);
      return carrier;
    }
    case 'shared':
      return sharedProcess().carrier(uri);
    case 'process':
      return processCarrier(uri);
  }
}

/** A closed connection's thread or process: a collector thread is kept for reuse, the others end. */
function release(uri: string, carrier: Carrier, detach: () => void): void {
  detach();
  carrier.unref();
  if (carrier.placement !== 'thread') {
    carrier.kill();
    return;
  }
  const list = idle.get(uri) ?? [];
  list.push(carrier);
  idle.set(uri, list);
}

/**
 * A call of `carrier` outlived its deadline: its URI is quarantined and what runs it ends
 * (for a thread of the shared process, that whole process, replaced for the others).
 */
function hung(uri: string, carrier: Carrier): void {
  quarantined.set(uri, Date.now());
  carrier.kill();
  carrier.host?.retire(`${uri} did not answer in time`);
}

/** One open libvirt connection on one thread or process. */
interface Link {
  readonly carrier: Carrier;
  ask<T>(op: Request['op']): Promise<T>;
  /** Why the link was lost, if it was. */
  lost(): Error | undefined;
  /** Ends it: every call fails with `error`; `isHang`: a call outlived its deadline. */
  end(error: Error, isHang: boolean): void;
  close(): Promise<void>;
}

/**
 * Opens a read-only connection where `placementOf` says; a refusal throws with libvirt's
 * own message, an open past its deadline with a TimeoutError (and is treated as a hang).
 */
async function openLink(uri: string, options: ConnectionOptions): Promise<Link> {
  if (placementOf(uri) === 'thread') await (handlerInstalled ??= quietThreadErrors());
  const carrier = newCarrier(uri);
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
  const lostNow = (): Error | undefined => gone;
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
  /** Abandons the connection: every call fails, its carrier ends, nothing is kept. */
  const end = (error: Error, isHang: boolean): void => {
    const wasGone = gone !== undefined;
    failAll(error);
    detach();
    if (isHang && !wasGone) hung(uri, carrier);
    else carrier.kill();
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
  const deadline = (ms: number, what: string, isHang: boolean): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      end(new TimeoutError(`${uri}: ${what}`, ms), isHang);
    }, ms);
    timer.unref();
  };
  try {
    carrier.ref();
    deadline(START_DEADLINE_MS, 'starting the connection thread', false);
    await ready;
    deadline(deadlineMs, 'opening the connection', true);
    await ask('open');
  } catch (error) {
    if (gone === undefined) release(uri, carrier, detach);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    carrier,
    ask,
    lost: lostNow,
    end,
    async close() {
      if (gone !== undefined) {
        end(gone, false);
        return;
      }
      // A connection stuck in a call to a hung hypervisor does not answer: it is ended as hung.
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
      const lost = lostNow();
      if (answered && lost === undefined) release(uri, carrier, detach);
      else end(lost ?? new TimeoutError(`${uri}: closing`, CLOSE_DEADLINE_MS), lost === undefined);
    },
  };
}

/**
 * Opens a read-only connection; a refusal throws with libvirt's own message, an open past
 * its deadline with a TimeoutError (the URI then quarantined). A connection whose shared
 * process was replaced for another's hang reopens in the new one at once, and a
 * collection it had in flight is made again there; a quarantined connection moves back to
 * the shared process at its first collection after its quarantine.
 */
export async function openConnection(
  uri: string,
  options: ConnectionOptions = {},
): Promise<LibvirtConnection> {
  let link = await openLink(uri, options);
  /** The link being opened to replace `link`, if any. */
  let reopening: Promise<Link> | undefined;
  let closed = false;
  /** Opens a new link where `placementOf` says; once open it replaces `link`, which is closed. */
  const reopen = (): Promise<Link> => {
    const opening = openLink(uri, options);
    reopening = opening;
    void opening.then(
      (l) => {
        if (reopening !== opening) return;
        reopening = undefined;
        if (closed) {
          void l.close();
          return;
        }
        const old = link;
        link = l;
        void old.close();
      },
      () => {
        // Reported by the collection waiting for it.
      },
    );
    return opening;
  };
  const onReplaced = (old: SharedProcess): void => {
    if (!closed && link.carrier.host === old && reopening === undefined) void reopen();
  };
  onSharedReplaced.add(onReplaced);
  /**
   * The link to collect on: the current one while it works, else the one replacing it.
   * A link in a retired shared process, or in a process of its own after its quarantine,
   * is replaced by a new one in the shared process (in the background).
   */
  const current = (): Link | Promise<Link> => {
    const l = link;
    const moving =
      l.carrier.host?.retired === true ||
      (l.carrier.placement === 'process' && placementOf(uri) !== 'process');
    if (moving && reopening === undefined) void reopen();
    if (l.lost() === undefined) return l;
    return reopening ?? reopen();
  };
  /** The link a collection is running on, if one is. */
  let collecting: Link | undefined;
  const collectOn = async (l: Link): Promise<Collected> => {
    collecting = l;
    try {
      const names = await l.ask<string[]>('list');
      await options.afterList?.(names);
      return await l.ask<Collected>('fill');
    } finally {
      collecting = undefined;
    }
  };
  return {
    uri,
    async collect() {
      let collected: Collected;
      try {
        collected = await collectOn(await current());
      } catch (error) {
        // Lost to another connection's hang: once more, in the new shared process.
        if (!(error instanceof Replaced) || closed) throw error;
        collected = await collectOn(await current());
      }
      return {
        domains: collected.domains,
        host: collected.host,
        errors: new Map(collected.errors.map(([key, message]) => [key, new Error(message)])),
      };
    },
    async close() {
      closed = true;
      onSharedReplaced.delete(onReplaced);
      const opening = reopening;
      reopening = undefined;
      if (opening !== undefined)
        void opening.then(
          (l) => l.close(),
          () => undefined,
        );
      await link.close();
    },
    abort() {
      closed = true;
      onSharedReplaced.delete(onReplaced);
      const error = new Error(`${uri}: aborted`);
      const opening = reopening;
      reopening = undefined;
      // A call past its deadline is a hang; a reopening that is late (a shared process slow
      // to start on a busy machine) is not held against the URI: an open that hangs is
      // caught by the open's own deadline.
      if (opening !== undefined)
        void opening.then(
          (l) => {
            l.end(error, false);
          },
          () => undefined,
        );
      const hanging = collecting ?? (opening === undefined ? link : undefined);
      hanging?.end(error, true);
      if (link !== hanging) link.end(error, false);
    },
  };
}
