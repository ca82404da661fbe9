import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type koffiModule from 'koffi';
import { quietProcessErrors } from './session.ts';
import type { Request, Response } from './worker.ts';

/**
 * The shared connection process: a child of the collector holding many libvirt
 * connections, each on a worker thread of its own (worker.ts) making synchronous libvirt
 * calls, so that a slow call blocks only its own connection. The collector (client.ts)
 * starts threads, relays their requests and answers, and ends them; when a call of one
 * connection outlives its deadline, the collector kills this whole process (a thread
 * blocked in a libvirt C call can be neither stopped nor joined) and starts a fresh one for
 * the other connections.
 */
export type HostRequest =
  | { readonly conn: number; readonly start: string }
  | { readonly conn: number; readonly request: Request }
  | { readonly conn: number; readonly end: true };
export type HostResponse =
  { readonly conn: number; readonly response: Response } | { readonly conn: number; readonly exit: string };

/** Linux prctl(2) option: the signal this process gets when its parent dies. */
const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

const WORKER = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

const send = process.send?.bind(process);
if (send !== undefined) {
  // This process never outlives the collector, even one killed with SIGKILL.
  const koffi = createRequire(import.meta.url)('koffi') as typeof koffiModule;
  const prctl = koffi.load('libc.so.6').func('int prctl(int option, unsigned long arg2)');
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  process.on('disconnect', () => process.exit(0));
  // libvirt's errors without a connection (a failed open on any thread) come to this main
  // thread, whose event loop only relays messages and so is always free to run the handler.
  quietProcessErrors();
  const threads = new Map<number, Worker>();
  const answer = (message: HostResponse): void => {
    send(message);
  };
  process.on('message', (message: HostRequest) => {
    const { conn } = message;
    if ('start' in message) {
      const worker = new Worker(WORKER, { workerData: { uri: message.start } });
      threads.set(conn, worker);
      worker.on('message', (response: Response) => {
        answer({ conn, response });
      });
      worker.on('error', (error: Error) => {
        answer({ conn, exit: `libvirt thread failed: ${error.message}` });
      });
      worker.on('exit', (code) => {
        threads.delete(conn);
        answer({ conn, exit: `libvirt thread exited (${String(code)})` });
      });
    } else if ('request' in message) {
      threads.get(conn)?.postMessage(message.request);
    } else {
      const worker = threads.get(conn);
      threads.delete(conn);
      void worker?.terminate();
    }
  });
}
