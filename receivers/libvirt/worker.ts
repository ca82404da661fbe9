import { parentPort, workerData } from 'node:worker_threads';
import type { Session } from './session.ts';
import { openSession } from './session.ts';

/**
 * The thread of one libvirt connection: opens it, then answers `list`, `fill` and `close`
 * from the main thread (client.ts), one at a time, with synchronous libvirt calls.
 */
export type Request = { id: number; op: 'open' } | { id: number; op: 'list' | 'fill' | 'close' };
export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

const port = parentPort;
const { uri } = workerData as { uri: string };
let session: Session | undefined;

function handle(request: Request): unknown {
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

port?.on('message', (request: Request) => {
  let response: Response;
  try {
    response = { id: request.id, ok: true, value: handle(request) };
  } catch (error) {
    response = { id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});
