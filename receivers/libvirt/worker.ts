import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type koffiModule from 'koffi';
import type { Session } from './session.ts';
import { openSession, quietProcessErrors } from './session.ts';

/**
 * One libvirt connection: opens it, then answers `list`, `fill` and `close` from the
 * receiver (client.ts), one at a time, with synchronous libvirt calls. It runs as a thread
 * of the shared connection process (host.ts), as a child process of its own (a quarantined
 * URI: a call past its deadline is ended with the process, whatever libvirt is blocked in)
 * or, for libvirt's in-memory test driver, as a thread of the collector.
 */
export type Request = { id: number; op: 'open' } | { id: number; op: 'list' | 'fill' | 'close' };
export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

/** The id of the message that says the thread or process is ready for requests. */
export const READY = -1;

/** Linux prctl(2) option: the signal this process gets when its parent dies. */
const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

interface Port {
  readonly uri: string;
  post(response: Response): void;
  onRequest(handler: (request: Request) => void): void;
}

function threadPort(): Port | undefined {
  const port = parentPort;
  if (port === null) return undefined;
  return {
    uri: (workerData as { uri: string }).uri,
    post: (response) => {
      port.postMessage(response);
    },
    onRequest: (handler) => port.on('message', handler),
  };
}

function processPort(): Port | undefined {
  const send = process.send?.bind(process);
  const uri = process.argv[2];
  if (send === undefined || uri === undefined) return undefined;
  // A connection process never outlives the collector, even one killed with SIGKILL.
  const koffi = createRequire(import.meta.url)('koffi') as typeof koffiModule;
  const prctl = koffi.load('libc.so.6').func('int prctl(int option, unsigned long arg2)');
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  process.on('disconnect', () => process.exit(0));
  // This process's own calls report errors without a connection here, kept off stderr.
  quietProcessErrors();
  return {
    uri,
    post: (response) => {
      send(response);
    },
    onRequest: (handler) => process.on('message', handler),
  };
}

const port = threadPort() ?? processPort();
let session: Session | undefined;

function handle(uri: string, request: Request): unknown {
  switch (request.op) {
    case 'open':
      session = openSession(uri);
      return undefined;
    case 'list':
      if (session === undefined) throw new Error(`${uri}: not open`);
      return session.list();
    case 'fill':
      if (session === undefined) throw new Error(`${uri}: not open`);
      return session.fill();
    case 'close':
      session?.close();
      session = undefined;
      return undefined;
  }
}

if (port !== undefined) {
  const { uri } = port;
  port.onRequest((request) => {
    let response: Response;
    try {
      response = { id: request.id, ok: true, value: handle(uri, request) };
    } catch (error) {
      response = {
        id: request.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      };
    }
    port.post(response);
  });
  // Ready: the connection's deadlines count from here, not from the process start.
  port.post({ id: READY, ok: true, value: undefined });
}
